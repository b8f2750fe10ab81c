#pragma once
// Which engine routes: the user's --device choice turned into a backend
// (../shared/spec/cli.md, `--device`).
#include "routing/RoutingBackend.h"

#include <memory>
#include <string>

namespace moescope {

enum class Device { Cpu, Gpu, Auto };

Device parseDevice(const std::string &name); // "cpu", "gpu" or "auto"

// The backend for `device`. `notice` receives what the user should be told on stderr
// (the OpenCL device used, or why `auto` fell back to the CPU). Throws
// std::runtime_error when `gpu` is asked for and no OpenCL device exists.
std::unique_ptr<RoutingBackend> makeBackend(Device device, std::string &notice);

} // namespace moescope
