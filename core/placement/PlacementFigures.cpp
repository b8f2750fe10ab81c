#include "placement/PlacementFigures.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

namespace moescope {

namespace {
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
}

std::vector<double> rankLoads(const ExpertPlacement &placement, const std::vector<double> &load)
{
    std::vector<double> L(placement.ranks, 0.0);
    for (int s = 0; s < int(placement.slotExpert.size()); ++s) {
        const int e = placement.slotExpert[s];
        L[placement.rankOfSlot(s)] += load[e] / placement.replicas[e];
    }
    return L;
}

double stragglerFactor(const std::vector<double> &rankLoad)
{
    const double total = std::accumulate(rankLoad.begin(), rankLoad.end(), 0.0);
    if (rankLoad.empty() || !(total > 0))
        return kNaN;
    return *std::max_element(rankLoad.begin(), rankLoad.end()) / (total / double(rankLoad.size()));
}

double modelStragglerFactor(const std::vector<std::vector<double>> &rankLoadPerLayer)
{
    double maxSum = 0, meanSum = 0;
    for (const auto &L : rankLoadPerLayer) {
        if (L.empty())
            continue;
        maxSum += *std::max_element(L.begin(), L.end());
        meanSum += std::accumulate(L.begin(), L.end(), 0.0) / double(L.size());
    }
    return meanSum > 0 ? maxSum / meanSum : kNaN;
}

double expertDroppedFraction(const std::vector<double> &load, double assignments, double capacityFactor)
{
    if (!(assignments > 0) || load.empty())
        return kNaN;
    const double capacity = std::ceil(capacityFactor * assignments / double(load.size())); // routing.md's C
    double dropped = 0;
    for (double c : load)
        dropped += std::max(0.0, c - capacity);
    return dropped / assignments;
}

double rankPooledDroppedFraction(const std::vector<double> &rankLoad, double assignments, double capacityFactor)
{
    if (!(assignments > 0) || rankLoad.empty())
        return kNaN;
    const double capacity = capacityFactor * assignments / double(rankLoad.size());
    double dropped = 0;
    for (double l : rankLoad)
        dropped += std::max(0.0, l - capacity);
    return dropped / assignments;
}

AllToAll allToAll(const LayerChoices &choices, const ExpertPlacement &placement)
{
    const int R = placement.ranks, E = placement.numExperts, k = choices.topK;
    const std::int64_t T = choices.numPositions();
    // The one pass: per source rank, the assignments each expert gets from it.
    std::vector<std::int64_t> fromRank(std::size_t(R) * E, 0);
    for (int s = 0; s < R; ++s) {
        const std::int64_t begin = (std::int64_t(s) * T + R - 1) / R, end = (std::int64_t(s + 1) * T + R - 1) / R;
        std::int64_t *row = fromRank.data() + std::size_t(s) * E;
        for (std::int64_t t = begin; t < end; ++t) {
            if (!choices.valid[t])
                continue;
            const std::int32_t *ids = choices.ids.data() + t * k;
            for (int i = 0; i < k; ++i) {
                bool repeated = false; // a row naming an expert twice counts it once (as c[e])
                for (int j = 0; j < i; ++j)
                    repeated |= ids[j] == ids[i];
                if (!repeated && ids[i] >= 0 && ids[i] < E)
                    ++row[ids[i]];
            }
        }
    }
    AllToAll a;
    a.ranks = R;
    a.volume.assign(std::size_t(R) * R, 0.0);
    for (int slot = 0; slot < int(placement.slotExpert.size()); ++slot) {
        const int e = placement.slotExpert[slot], d = placement.rankOfSlot(slot);
        const double share = 1.0 / placement.replicas[e];
        for (int s = 0; s < R; ++s)
            a.volume[std::size_t(s) * R + d] += double(fromRank[std::size_t(s) * E + e]) * share;
    }
    double leaving = 0;
    for (int s = 0; s < R; ++s)
        for (int d = 0; d < R; ++d) {
            a.total += a.at(s, d);
            if (s != d)
                leaving += a.at(s, d);
        }
    a.leavingShare = a.total > 0 ? leaving / a.total : kNaN;
    return a;
}

LayerPlacementFigures evaluatePlacement(const PlacementSettings &settings, const std::vector<double> &planLoad,
                                        const std::vector<double> &load, double assignments,
                                        double capacityFactor, const LayerChoices *choices)
{
    LayerPlacementFigures f;
    f.placement = placeExperts(settings, planLoad);
    f.rankLoad = rankLoads(f.placement, load);
    f.straggler = stragglerFactor(f.rankLoad);
    f.droppedFraction = expertDroppedFraction(load, assignments, capacityFactor);
    f.rankPooledDroppedFraction = rankPooledDroppedFraction(f.rankLoad, assignments, capacityFactor);
    if (choices)
        f.allToAll = allToAll(*choices, f.placement);
    return f;
}

} // namespace moescope
