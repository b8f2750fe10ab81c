#pragma once
// The GPU backend: OpenCL C 1.2 kernels (RoutingKernels.cl) on any OpenCL device, a
// GPU or PoCL on the CPU. Chunks are cut into batches that alternate between two
// queues and two sets of buffers, so one batch's transfers overlap the other's kernel.
// Routing by raw logits (no bias, no groups) chooses exactly as the CPU; with bias or
// groups the keys p + b are float, so a near tie may fall the other way. k > 32,
// more than 64 expert groups and float64 precision go to the CPU backend inside.
// The expert-pair matrices are exact (integer counts); co-activation with k > 32 and
// pair counts a device uint could not hold go to the CPU backend as well.
#include "routing/RoutingBackend.h"

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

namespace moescope {

struct OpenClDeviceInfo {
    std::string name; // "device (platform)"
    bool gpu = false; // a GPU-type device
};

// The OpenCL devices of this machine; empty (and `problem` set) when there is no
// OpenCL platform or device. Never throws.
std::vector<OpenClDeviceInfo> openClDevices(std::string *problem = nullptr);
struct OpenClTestHooks;
std::vector<OpenClDeviceInfo> openClDevices(std::string *problem, const OpenClTestHooks &hooks);

// The backend on the first GPU-type device, else (unless gpuOnly) on the first device
// of any type. The kernels are built here, once per device and process. With
// fallbackOnError, an OpenCL failure later moves the work to the CPU with a warning
// (takeWarnings) instead of throwing. Throws std::runtime_error when there is no
// suitable device or the kernels do not build.
std::unique_ptr<RoutingBackend> makeOpenClBackend(bool gpuOnly = false, bool fallbackOnError = false);

// For tests: treat every OpenCL device as a GPU-type device (so `auto` can be tried on
// PoCL) and add options to the kernel build (a bad one makes the build fail).
// The expert-pair calls (coActivation, layerTransitions) count into a work-group
// histogram in local memory when it fits, else into global memory: pairLocalBytes
// replaces the local memory they may use (0: the device's, less headroom), so that
// small E reach the global path too; pairBatchTokens replaces the tokens per launch
// (0: as large as the device allows); pairPath, when set, receives the path of every
// such call: "local", "global" or "cpu"; routePath, when set, receives the path of
// every route call: "device" or "cpu".
struct OpenClTestHooks {
    bool anyDeviceIsGpu = false;
    std::string extraBuildOptions;
    std::size_t pairLocalBytes = 0;
    std::size_t pairBatchTokens = 0;
    std::string *pairPath = nullptr;
    std::string *routePath = nullptr;
};
std::unique_ptr<RoutingBackend> makeOpenClBackend(bool gpuOnly, bool fallbackOnError, const OpenClTestHooks &hooks);

} // namespace moescope
