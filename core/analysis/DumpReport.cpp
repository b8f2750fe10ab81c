#include "analysis/DumpReport.h"

#include "stats/LabelShares.h"

#include <cmath>
#include <future>
#include <sstream>

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
    // Drops, locality and vocabulary are each a pass over the choices (the vocabulary
    // one by token id, bound by memory latency): side by side with the counts.
    CapacityRequest drops = request.drops;
    drops.capacityFactor = request.capacityFactor;
    const LayerChoices &c = pass.choices;
    // The counts come with the drops (one pass over the choices) unless the routing
    // pass counted them already.
    std::vector<std::int64_t> counted;
    std::vector<std::int64_t> *countsOut = pass.routedCounts.empty() ? &counted : nullptr;
    std::future<DropReport> dropped = std::async(
        std::launch::async, [&] { return simulateDrops(c, info.sequenceOffsets, drops, countsOut); });
    std::future<TokenLocality> locality =
        std::async(std::launch::async, [&] { return tokenLocality(c, info.sequenceOffsets); });
    std::future<VocabularySpecialisation> vocabulary;
    if (request.tokenPositions && request.tokenPositions->numPositions() == c.numPositions())
        vocabulary = std::async(std::launch::async, [&] {
            return vocabularySpecialisation(c, *request.tokenPositions, request.vocabularyMinCount);
        });
    try {
        if (!info.sequenceLabels.empty())
            r.labelShares = labelShares(c, info.sequenceOffsets, info.sequenceLabels);
    } catch (...) {
        dropped.wait();
        locality.wait();
        if (vocabulary.valid())
            vocabulary.wait();
        throw;
    }
    r.drops = dropped.get();
    r.counts = pass.routedCounts.empty() ? std::move(counted) : pass.routedCounts;
    r.drops.stragglerFactor = stragglerFactor(r.counts, r.drops.assignments);
    r.locality = locality.get();
    if (vocabulary.valid())
        r.vocabulary = vocabulary.get();
    r.load = computeLoad(r.counts, c.topK, r.tokens, request.capacityFactor);
    if (pass.hasLosses) {
        r.lbLoss = loadBalancingLoss(r.counts, r.tokens, pass.meanProb);
        if (!std::isnan(pass.zLoss))
            r.zLoss = pass.zLoss;
    }
    r.agreement = pass.agreement;
    return r;
}

std::vector<std::string> storedCountsWarnings(const DumpInfo &info, const DumpReport &report)
{
    std::vector<std::string> warnings;
    for (const LayerReport &r : report.layers) {
        if (r.position >= info.layers.size() || !r.choicesRecorded)
            continue;
        const std::vector<double> &stored = info.layers[r.position].storedCounts;
        if (stored.size() != r.counts.size())
            continue;
        std::size_t differing = 0, first = 0;
        for (std::size_t e = 0; e < stored.size(); ++e)
            if (std::abs(stored[e] - double(r.counts[e])) > 0.5 && differing++ == 0)
                first = e;
        if (differing == 0)
            continue;
        std::ostringstream m;
        m << info.path << ": /layers/" << r.name << "/counts disagrees with the layer's topk_ids at " << differing
          << " of " << stored.size() << " experts (expert " << first << ": stored " << stored[first] << ", counted "
          << r.counts[first] << "); the figures shown are from topk_ids";
        warnings.push_back(m.str());
    }
    return warnings;
}

double effectiveCapacityFactor(const DumpInfo &info, std::optional<double> requested)
{
    if (requested)
        return *requested;
    return info.capacityFactor > 0 ? info.capacityFactor : kDefaultCapacityFactor;
}

} // namespace moescope
