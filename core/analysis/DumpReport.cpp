#include "analysis/DumpReport.h"

#include "stats/LabelShares.h"

#include <cmath>
#include <future>

namespace moescope {

LayerReport layerReport(const DumpInfo &info, std::size_t position, const LayerPass &pass,
                        const ReportRequest &request)
{
    const LayerInfo &li = info.layers.at(position);
    LayerReport r;
    r.position = position;
    r.name = li.name;
    r.index = li.index;
    r.choicesRecorded = pass.choicesRecorded;
    if (li.loadOnly()) {
        // Counts alone: the load metrics, hot and cold; drops, losses and label
        // shares need each token's choices and stay unknown.
        r.countsOnly = true;
        r.tokens = info.numTokens;
        r.counts = pass.routedCounts;
        r.load = computeLoad(r.counts, info.topK, r.tokens, request.capacityFactor);
        return r;
    }
    r.tokens = pass.choices.validTokens();
    r.invalidTokens = pass.invalidTokens;
    // The drops and the counts are each a pass over the choices: side by side.
    CapacityRequest drops = request.drops;
    drops.capacityFactor = request.capacityFactor;
    std::future<DropReport> dropped =
        std::async(std::launch::async, [&] { return simulateDrops(pass.choices, info.sequenceOffsets, drops); });
    try {
        r.counts = pass.routedCounts.empty() ? pass.choices.counts() : pass.routedCounts;
    } catch (...) {
        dropped.wait();
        throw;
    }
    r.drops = dropped.get();
    r.drops.stragglerFactor = stragglerFactor(r.counts, r.drops.assignments);
    r.load = computeLoad(r.counts, pass.choices.topK, r.tokens, request.capacityFactor);
    if (pass.hasLosses) {
        r.lbLoss = loadBalancingLoss(r.counts, r.tokens, pass.meanProb);
        if (!std::isnan(pass.zLoss))
            r.zLoss = pass.zLoss;
    }
    if (!info.sequenceLabels.empty())
        r.labelShares = labelShares(pass.choices, info.sequenceOffsets, info.sequenceLabels);
    r.agreement = pass.agreement;
    return r;
}

double effectiveCapacityFactor(const DumpInfo &info, std::optional<double> requested)
{
    if (requested)
        return *requested;
    return info.capacityFactor > 0 ? info.capacityFactor : kDefaultCapacityFactor;
}

} // namespace moescope
