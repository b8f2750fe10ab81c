#pragma once
// The OpenCL side of core/routing (internal): device discovery and, per device, one
// context with the routing program built, shared by every backend of the process.
// Building is slow on some platforms (seconds with PoCL), so it happens once.
//
// Everything here goes through the Khronos C++ bindings with exceptions on; callers
// turn cl::Error into std::runtime_error with errorText().
#define CL_HPP_TARGET_OPENCL_VERSION 120
#define CL_HPP_MINIMUM_OPENCL_VERSION 120
#define CL_HPP_ENABLE_EXCEPTIONS
#if defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wignored-attributes" // the bindings' own templates
#endif
#include <CL/opencl.hpp>
#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif

#include <memory>
#include <string>
#include <vector>

namespace moescope::opencl {

struct DeviceEntry {
    cl::Device device;
    std::string name;     // "device name (platform name)"
    bool gpu = false;     // CL_DEVICE_TYPE_GPU
};

// Every OpenCL device of every platform, in platform order. Never throws: without an
// ICD loader configuration or any platform the list is empty and `problem` says why.
std::vector<DeviceEntry> listDevices(std::string *problem = nullptr);

struct Runtime {
    cl::Context context;
    cl::Device device;
    cl::Program program; // built
    std::string deviceName;
};

// The runtime of `entry`'s device, built on first use with `buildOptions` added to
// the compiler's. Thread-safe. Throws std::runtime_error (with the build log) when the
// program does not build.
std::shared_ptr<const Runtime> runtimeFor(const DeviceEntry &entry, const std::string &buildOptions = {});

// "what (CL_ERROR_NAME)" for a failed call.
std::string errorText(const cl::Error &e);

} // namespace moescope::opencl
