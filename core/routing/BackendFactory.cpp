#include "routing/BackendFactory.h"

#include "routing/OpenClBackend.h"

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
    return makeBackend(device, notice, OpenClTestHooks{});
}

std::unique_ptr<RoutingBackend> makeBackend(Device device, std::string &notice, const OpenClTestHooks &hooks)
{
    notice.clear();
    if (device == Device::Cpu)
        return makeCpuBackend();
    if (device == Device::Gpu) {
        std::string problem;
        if (openClDevices(&problem, hooks).empty())
            throw std::runtime_error("--device gpu: no OpenCL device found (" + problem +
                                     "); use --device cpu or install an OpenCL driver");
        auto backend = makeOpenClBackend(false, false, hooks);
        notice = "routing on " + backend->name();
        return backend;
    }
    // auto: the GPU only when there is a GPU-type device; an OpenCL CPU device is no
    // faster than our own CPU backend.
    bool gpu = false;
    for (const auto &d : openClDevices(nullptr, hooks))
        gpu |= d.gpu;
    if (!gpu)
        return makeCpuBackend();
    try {
        auto backend = makeOpenClBackend(true, true, hooks);
        notice = "routing on " + backend->name();
        return backend;
    } catch (const std::exception &e) {
        notice = std::string("warning: ") + e.what() + "; routing on the CPU instead";
        return makeCpuBackend();
    }
}

} // namespace moescope
