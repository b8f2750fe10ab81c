#include "analysis/ExpertChoiceReplay.h"

#include "analysis/LogitsChunks.h"

namespace moescope {

ExpertChoiceResult replayExpertChoice(const RoutingDump &dump, std::size_t layer, const LayerChoices &routed,
                                      const RoutingRules &rules, double capacityFactor, CapacityGroup grouping,
                                      const Progress &progress)
{
    const DumpInfo &info = dump.info();
    std::vector<std::int64_t> bounds{0, info.numTokens};
    if (grouping == CapacityGroup::Sequence && info.sequenceOffsets.size() >= 2)
        bounds = info.sequenceOffsets;
    std::vector<std::int64_t> validPerGroup;
    for (std::size_t g = 0; g + 1 < bounds.size(); ++g) {
        std::int64_t n = 0;
        for (std::int64_t t = bounds[g]; t < bounds[g + 1]; ++t)
            n += routed.valid[std::size_t(t)] != 0;
        validPerGroup.push_back(n);
    }
    ExpertChoiceRouter router(info.numExperts, rules, capacityFactor, bounds, validPerGroup);
    forEachLogitsChunk(dump, layer, [&](const LogitsView &chunk, std::int64_t begin) { router.add(chunk, begin); },
                       progress);
    return router.finish(info.sequenceOffsets);
}

} // namespace moescope
