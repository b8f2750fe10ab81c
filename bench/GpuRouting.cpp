#include "GpuRouting.h"

#include "routing/BackendFactory.h"
#include "routing/RoutingBackend.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <stdexcept>

void timeOpenClRouting(const std::vector<std::uint16_t> &halves, std::int64_t tokens, int layers, int experts,
                       const moescope::RoutingRules &rules, const std::vector<moescope::LayerChoices> &cpuChoices,
                       int runs)
{
    std::unique_ptr<moescope::RoutingBackend> gpu;
    try {
        std::string notice;
        gpu = moescope::makeBackend(moescope::Device::Gpu, notice);
    } catch (const std::runtime_error &e) {
        std::printf("(f) OpenCL routing: not measured (%s)\n\n", e.what());
        return;
    }
    const auto T = std::size_t(tokens), k = std::size_t(rules.topK), E = std::size_t(experts);
    std::vector<std::int32_t> ids(T * k);
    std::vector<std::uint8_t> valid(T);
    double best = 1e9;
    std::size_t differing = 0;
    for (int r = 0; r < runs + 1; ++r) { // the first run also compiles the kernels
        const auto start = std::chrono::steady_clock::now();
        differing = 0;
        double routing = 0;
        for (int l = 0; l < layers; ++l) {
            moescope::ChunkOutput out;
            out.ids = ids.data();
            out.valid = valid.data();
            moescope::LossTotals totals;
            const auto layerStart = std::chrono::steady_clock::now();
            gpu->routeChunk(halves.data() + std::size_t(l) * T * E, T, experts, rules, out, totals);
            routing += std::chrono::duration<double>(std::chrono::steady_clock::now() - layerStart).count();
            const moescope::LayerChoices &cpu = cpuChoices[std::size_t(l)];
            for (std::size_t i = 0; i < T * k; ++i)
                differing += ids[i] != cpu.ids[i];
        }
        (void)start;
        best = std::min(best, routing);
    }
    const double bytes = double(T) * double(layers) * double(E) * 2;
    std::printf("(f) OpenCL backend routing the same in-memory logits (%s):\n"
                "    best %.3f s = %.2f GB/s (host to device copies included); choices differing from the CPU "
                "backend's: %zu of %zu\n\n",
                gpu->name().c_str(), best, bytes / best / 1e9, differing, T * k * std::size_t(layers));
}
