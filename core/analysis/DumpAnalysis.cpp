#include "analysis/DumpAnalysis.h"

#include <algorithm>
#include <stdexcept>

namespace moescope {

std::string DumpAnalysis::textAt(std::int64_t position) const
{
    return tokenText(vocab, tokenIds.at(std::size_t(position)));
}

std::int64_t DumpAnalysis::sequenceOf(std::int64_t position) const
{
    const auto &o = info.sequenceOffsets;
    if (o.size() < 2)
        return 0;
    // The last offset <= position; empty sequences share their offset with the next
    // one, and upper_bound skips past them to the sequence that really holds it.
    const auto it = std::upper_bound(o.begin(), o.end() - 1, position);
    return std::max<std::int64_t>(0, std::int64_t(it - o.begin()) - 1);
}

int DumpAnalysis::bestExpert(std::size_t layer, std::int64_t position) const
{
    const LayerChoices &c = passes.at(layer).choices;
    if (!c.valid[std::size_t(position)])
        return -1;
    return c.ids[std::size_t(position) * std::size_t(c.topK)];
}

DumpAnalysis analyzeDump(const RoutingDump &dump, const AnalysisRequest &request, const Progress &progress,
                         const LayerReady &onLayer)
{
    if (request.reroute || request.logitsLayersOnly || !request.onlyLayers.empty())
        throw std::invalid_argument("the window's analysis covers every layer as recorded");
    AnalysisRequest windowRequest = request;
    windowRequest.keepPasses = true;
    windowRequest.readTokens = true;
    AnalysisResult r = runAnalysis(dump, windowRequest, progress, onLayer);
    DumpAnalysis a;
    a.info = std::move(r.info);
    a.tokenIds = std::move(r.tokenIds);
    a.vocab = std::move(r.vocab);
    a.report = std::move(r.report);
    a.training = std::move(r.training);
    a.passes.reserve(r.layers.size());
    for (LayerAnalysis &l : r.layers)
        a.passes.push_back(std::move(*l.pass));
    return a;
}

} // namespace moescope
