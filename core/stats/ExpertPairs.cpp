#include "stats/ExpertPairs.h"

#include <algorithm>

namespace moescope {

std::vector<std::int64_t> coActivation(const LayerChoices &c)
{
    const std::size_t E = c.numExperts;
    std::vector<std::int64_t> a(E * E, 0);
    std::vector<std::int32_t> set;
    for (std::int64_t t = 0; t < c.numPositions(); ++t) {
        if (!c.valid[t])
            continue;
        set.assign(c.ids.begin() + t * c.topK, c.ids.begin() + (t + 1) * c.topK);
        std::sort(set.begin(), set.end());
        set.erase(std::unique(set.begin(), set.end()), set.end());
        for (std::int32_t e1 : set)
            for (std::int32_t e2 : set)
                ++a[e1 * E + e2];
    }
    return a;
}

std::vector<std::int64_t> layerTransitions(const LayerChoices &from, const LayerChoices &to)
{
    const std::size_t E = from.numExperts;
    std::vector<std::int64_t> m(E * E, 0);
    const std::int64_t T = std::min(from.numPositions(), to.numPositions());
    for (std::int64_t t = 0; t < T; ++t)
        if (from.valid[t] && to.valid[t])
            ++m[from.ids[t * from.topK] * E + to.ids[t * to.topK]];
    return m;
}

} // namespace moescope
