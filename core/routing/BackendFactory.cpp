#include "routing/BackendFactory.h"

#include <stdexcept>

namespace moescope {

Device parseDevice(const std::string &name)
{
    if (name == "cpu")
        return Device::Cpu;
    if (name == "gpu")
        return Device::Gpu;
    if (name == "auto")
        return Device::Auto;
    throw std::invalid_argument("unknown device '" + name + "'");
}

std::unique_ptr<RoutingBackend> makeBackend(Device device, std::string &notice)
{
    notice.clear();
    if (device == Device::Gpu)
        throw std::runtime_error("--device gpu: this build has no OpenCL backend yet");
    return makeCpuBackend();
}

} // namespace moescope
