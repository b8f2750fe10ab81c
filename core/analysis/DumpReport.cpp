#include "analysis/DumpReport.h"

#include "stats/LabelShares.h"

#include <cmath>

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
    r.tokens = pass.choices.validTokens();
    r.invalidTokens = pass.invalidTokens;
    r.counts = pass.routedCounts.empty() ? pass.choices.counts() : pass.routedCounts;
    r.load = computeLoad(r.counts, pass.choices.topK, r.tokens, request.capacityFactor);
    if (pass.hasLosses) {
        r.lbLoss = loadBalancingLoss(r.counts, r.tokens, pass.meanProb);
        if (!std::isnan(pass.zLoss))
            r.zLoss = pass.zLoss;
    }
    CapacityRequest drops = request.drops;
    drops.capacityFactor = request.capacityFactor;
    r.drops = simulateCapacity(pass.choices, info.sequenceOffsets, drops, &r.counts);
    if (!info.sequenceLabels.empty())
        r.labelShares = labelShares(pass.choices, info.sequenceOffsets, info.sequenceLabels);
    r.agreement = pass.agreement;
    return r;
}

DumpReport buildReport(const RoutingDump &dump, const ReportRequest &request, const Progress &progress)
{
    const DumpInfo &info = dump.info();
    DumpReport report;
    report.file = info.path;
    report.tokens = info.numTokens;
    report.numExperts = info.numExperts;
    report.topK = request.reroute ? request.reroute->topK : info.topK;
    report.capacityFactor = request.capacityFactor;
    report.warnings = info.warnings;

    std::vector<std::size_t> positions;
    for (std::size_t l = 0; l < info.layers.size(); ++l)
        if (!request.logitsLayersOnly || info.layers[l].hasLogits)
            positions.push_back(l);
    for (std::size_t i = 0; i < positions.size(); ++i) {
        const std::size_t l = positions[i];
        LayerPassRequest passRequest;
        passRequest.backend = request.backend;
        if (request.reroute) {
            passRequest.reroute = *request.reroute;
            // The layer's own bias stays part of the rules being re-run.
            passRequest.reroute->expertBias = info.layers[l].expertBias;
            passRequest.reroute->inputsAreProbabilities = info.layers[l].logitsAreProbabilities;
        }
        passRequest.keepGateProbs = request.drops.policy == DropPolicy::ScorePriority;
        const Progress part = progress.part(double(i) / positions.size(), double(i + 1) / positions.size());
        const LayerPass pass = runLayerPass(dump, l, passRequest, part);
        report.layers.push_back(layerReport(info, l, pass, request));
    }
    return report;
}

double effectiveCapacityFactor(const DumpInfo &info, std::optional<double> requested)
{
    if (requested)
        return *requested;
    return info.capacityFactor > 0 ? info.capacityFactor : kDefaultCapacityFactor;
}

} // namespace moescope
