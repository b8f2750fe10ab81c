#pragma once
// The tokens per expert the test run-log writer (RunLogWriterMain.cpp) records, so
// that a test knows what each step holds without reading it back: a balanced layer
// wobbles around 100 tokens per expert; from `collapseFrom` on, layer `collapseLayer`
// sends 60% of its slots to expert 0 and none to the last expert.
#include <cstdint>
#include <vector>

namespace moescope::test {

struct RunLogPattern {
    int layers = 4, experts = 8;
    std::int64_t collapseFrom = -1; // -1: never
    int collapseLayer = 0;

    std::vector<std::int64_t> counts(std::int64_t step) const
    {
        std::vector<std::int64_t> c(std::size_t(layers) * std::size_t(experts));
        for (int l = 0; l < layers; ++l)
            for (int e = 0; e < experts; ++e) {
                std::int64_t v = 100 + ((step * 7 + l * 3 + e * 5) % 11) - 5;
                if (collapseFrom >= 0 && step >= collapseFrom && l == collapseLayer) {
                    const std::int64_t total = 100 * experts;
                    v = e == 0 ? total * 6 / 10 : e == experts - 1 ? 0 : total * 4 / 10 / (experts - 2);
                }
                c[std::size_t(l * experts + e)] = v;
            }
        return c;
    }
    double lbLoss(std::int64_t step, int layer) const { return 1.0 + 0.001 * double(step) + 0.1 * layer; }
};

} // namespace moescope::test
