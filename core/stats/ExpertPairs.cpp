#include "stats/ExpertPairs.h"

#include <algorithm>
#include <cmath>

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

std::vector<std::int64_t> adjacentCoActivation(const LayerChoices &c)
{
    const std::size_t E = std::size_t(c.numExperts);
    const int k = c.topK;
    std::vector<std::int64_t> a(E * E, 0);
    for (std::int64_t t = 0; t < c.numPositions(); ++t) {
        if (!c.valid[std::size_t(t)])
            continue;
        const std::int32_t *row = c.ids.data() + t * k;
        for (int i = 0; i < k; ++i) {
            bool repeated = false;
            for (int j = 0; j < i; ++j)
                repeated |= row[j] == row[i];
            if (!repeated)
                ++a[std::size_t(row[i]) * E + std::size_t(row[i])];
        }
        for (int i = 0; i + 1 < k; ++i) {
            const auto e1 = std::size_t(row[i]), e2 = std::size_t(row[i + 1]);
            if (e1 == e2)
                continue;
            ++a[e1 * E + e2];
            ++a[e2 * E + e1];
        }
    }
    return a;
}

std::vector<std::int64_t> layerTransitions(const LayerChoices &from, const LayerChoices &to)
{
    const std::size_t E = from.numExperts;
    std::vector<std::int64_t> m(E * E, 0);
    addLayerTransitions(from, to, 0, std::min(from.numPositions(), to.numPositions()), m);
    return m;
}

void addLayerTransitions(const LayerChoices &from, const LayerChoices &to, std::int64_t begin, std::int64_t end,
                         std::vector<std::int64_t> &m)
{
    const std::size_t E = std::size_t(from.numExperts);
    for (std::int64_t t = begin; t < end; ++t)
        if (from.valid[std::size_t(t)] && to.valid[std::size_t(t)])
            ++m[std::size_t(from.ids[std::size_t(t * from.topK)]) * E + std::size_t(to.ids[std::size_t(t * to.topK)])];
}

void ExpertPairCounts::setCounts(std::vector<std::int64_t> matrix)
{
    counts = std::move(matrix);
    totals.assign(std::size_t(numExperts), 0);
    for (int e1 = 0; e1 < numExperts; ++e1)
        if (isCoActivation(kind))
            totals[std::size_t(e1)] = count(e1, e1);
        else
            for (int e2 = 0; e2 < numExperts; ++e2)
                totals[std::size_t(e1)] += count(e1, e2);
}

double ExpertPairCounts::share(int e1, int e2) const
{
    const std::int64_t total = rowTotal(e1);
    if (total == 0 || (isCoActivation(kind) && e1 == e2))
        return NAN;
    return double(count(e1, e2)) / double(total);
}

double ExpertPairCounts::uniformShare(int topK) const
{
    if (kind == PairKind::Transitions)
        return numExperts > 0 ? 1.0 / numExperts : NAN;
    if (numExperts <= 1 || topK < 1)
        return NAN;
    // Adjacent pairs: an expert has on average 2 (k - 1) / k neighbours in the order.
    if (kind == PairKind::AdjacentCoActivation)
        return 2.0 * double(topK - 1) / double(topK) / double(numExperts - 1);
    return double(topK - 1) / double(numExperts - 1);
}

} // namespace moescope
