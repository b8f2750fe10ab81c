#include "routing/OpenClRuntime.h"

#include "routing/OpenClLoader.h"
#include "routing/RoutingKernelSource.h"

#include <algorithm>
#include <map>
#include <mutex>
#include <stdexcept>

namespace moescope::opencl {

namespace {

const char *errorName(cl_int code)
{
    switch (code) {
    case CL_DEVICE_NOT_FOUND: return "CL_DEVICE_NOT_FOUND";
    case CL_DEVICE_NOT_AVAILABLE: return "CL_DEVICE_NOT_AVAILABLE";
    case CL_COMPILER_NOT_AVAILABLE: return "CL_COMPILER_NOT_AVAILABLE";
    case CL_MEM_OBJECT_ALLOCATION_FAILURE: return "CL_MEM_OBJECT_ALLOCATION_FAILURE";
    case CL_OUT_OF_RESOURCES: return "CL_OUT_OF_RESOURCES";
    case CL_OUT_OF_HOST_MEMORY: return "CL_OUT_OF_HOST_MEMORY";
    case CL_BUILD_PROGRAM_FAILURE: return "CL_BUILD_PROGRAM_FAILURE";
    case CL_INVALID_VALUE: return "CL_INVALID_VALUE";
    case CL_INVALID_PLATFORM: return "CL_INVALID_PLATFORM";
    case CL_INVALID_DEVICE: return "CL_INVALID_DEVICE";
    case CL_INVALID_KERNEL_ARGS: return "CL_INVALID_KERNEL_ARGS";
    case CL_INVALID_WORK_GROUP_SIZE: return "CL_INVALID_WORK_GROUP_SIZE";
    case CL_INVALID_BUFFER_SIZE: return "CL_INVALID_BUFFER_SIZE";
    case CL_INVALID_BUILD_OPTIONS: return "CL_INVALID_BUILD_OPTIONS";
    case CL_INVALID_PROGRAM_EXECUTABLE: return "CL_INVALID_PROGRAM_EXECUTABLE";
    case CL_INVALID_KERNEL_NAME: return "CL_INVALID_KERNEL_NAME";
    case CL_INVALID_MEM_OBJECT: return "CL_INVALID_MEM_OBJECT";
    case CL_INVALID_COMMAND_QUEUE: return "CL_INVALID_COMMAND_QUEUE";
    case -1001: return "CL_PLATFORM_NOT_FOUND_KHR (no OpenCL platform installed)";
    default: return nullptr;
    }
}

} // namespace

std::string errorText(const cl::Error &e)
{
    const char *name = errorName(e.err());
    return std::string(e.what()) + " (" + (name ? name : "OpenCL error " + std::to_string(e.err())) + ")";
}

namespace {
// One discovery at a time: two views starting jobs together once crashed inside
// PoCL's clGetDeviceInfo while its first discovery was still under way.
std::mutex discovery;

// Programs built so far, by device and build options, so that every backend on a
// device shares one context and one compiled program. The key's cl_device_id is
// OpenCL's own identity of the device, valid for the life of the process.
struct BuiltPrograms {
    std::mutex mutex;
    std::map<std::pair<cl_device_id, std::string>, std::shared_ptr<const Runtime>> runtimes;
};
BuiltPrograms built;
} // namespace

std::vector<DeviceEntry> listDevices(std::string *problem)
{
    std::lock_guard lock(discovery);
    std::vector<DeviceEntry> out;
    if (const std::string missing = loaderProblem(); !missing.empty()) {
        if (problem)
            *problem = missing;
        return out;
    }
    std::vector<cl::Platform> platforms;
    try {
        cl::Platform::get(&platforms);
    } catch (const cl::Error &e) {
        if (problem)
            *problem = errorText(e);
        return out;
    }
    if (platforms.empty() && problem)
        *problem = "no OpenCL platform is installed";
    for (const cl::Platform &platform : platforms) {
        std::vector<cl::Device> devices;
        try {
            platform.getDevices(CL_DEVICE_TYPE_ALL, &devices);
        } catch (const cl::Error &) {
            continue; // a platform without devices
        }
        for (const cl::Device &d : devices) {
            try {
                DeviceEntry entry;
                entry.device = d;
                entry.name = d.getInfo<CL_DEVICE_NAME>() + " (" + platform.getInfo<CL_PLATFORM_NAME>() + ")";
                entry.gpu = (d.getInfo<CL_DEVICE_TYPE>() & CL_DEVICE_TYPE_GPU) != 0;
                // Strip the terminating NULs some drivers leave in names.
                entry.name.erase(std::remove(entry.name.begin(), entry.name.end(), '\0'), entry.name.end());
                out.push_back(std::move(entry));
            } catch (const cl::Error &) {
            }
        }
    }
    if (out.empty() && problem && problem->empty())
        *problem = "the OpenCL platforms offer no device";
    return out;
}

std::shared_ptr<const Runtime> runtimeFor(const DeviceEntry &entry, const std::string &buildOptions)
{
    std::lock_guard lock(built.mutex);
    const auto key = std::make_pair(entry.device(), buildOptions);
    const auto found = built.runtimes.find(key);
    if (found != built.runtimes.end())
        return found->second;

    auto rt = std::make_shared<Runtime>();
    rt->device = entry.device;
    rt->deviceName = entry.name;
    try {
        rt->context = cl::Context(entry.device);
        rt->program = cl::Program(rt->context, std::string(kRoutingKernelSource));
        try {
            // No fast-math: isfinite() must keep working and exp() stay accurate.
            rt->program.build({entry.device}, ("-cl-std=CL1.2 " + buildOptions).c_str());
        } catch (const cl::Error &e) {
            std::string log;
            try {
                log = rt->program.getBuildInfo<CL_PROGRAM_BUILD_LOG>(entry.device);
            } catch (const cl::Error &) {
            }
            throw std::runtime_error("OpenCL: the routing kernels do not build on " + entry.name + ": " +
                                     errorText(e) + (log.empty() ? "" : "\n" + log));
        }
    } catch (const cl::Error &e) {
        throw std::runtime_error("OpenCL: cannot use " + entry.name + ": " + errorText(e));
    }
    built.runtimes.emplace(key, rt);
    return rt;
}

} // namespace moescope::opencl
