#pragma once
// Which engine routes: the user's --device choice turned into a backend
// (docs/cli.md, `--device`).
#include "routing/RoutingBackend.h"

#include <memory>
#include <string>

namespace moescope {

enum class Device { Cpu, Gpu, Auto };

Device parseDevice(const std::string &name); // "cpu", "gpu" or "auto"; std::invalid_argument otherwise

// The backend for `device`:
//   cpu   the CPU backend;
//   gpu   OpenCL on the first GPU-type device, else on any OpenCL device (PoCL, say);
//         throws std::runtime_error when there is no OpenCL device at all or the
//         kernels do not build there;
//   auto  gpu when a GPU-type device exists and works, else cpu. Never throws for
//         OpenCL reasons: a failure (now or later) falls back to the CPU with a warning.
// `notice` receives what the user should be told on stderr: the OpenCL device used, or
// why `auto` fell back to the CPU.
std::unique_ptr<RoutingBackend> makeBackend(Device device, std::string &notice);

struct OpenClTestHooks;
// The same with OpenCL test hooks (OpenClBackend.h).
std::unique_ptr<RoutingBackend> makeBackend(Device device, std::string &notice, const OpenClTestHooks &hooks);

} // namespace moescope
