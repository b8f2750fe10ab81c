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
    return layers ? layers->firstChoice(layer, position) : -1;
}

LayerPassPtr DumpAnalysis::pass(std::size_t layer, const Progress &progress) const
{
    if (!layers)
        throw std::logic_error("the dump's layers are still being analysed");
    return layers->pass(layer, progress);
}

DumpAnalysis analysisFromReport(const std::shared_ptr<const RoutingDump> &dump, DumpReport report,
                                std::size_t layerBudget)
{
    DumpAnalysis a;
    a.info = dump->info();
    a.tokenIds = dump->readTokenIds(0, std::uint64_t(a.info.numTokens));
    a.vocab = dump->readVocab();
    if (a.info.hasTraining)
        a.training = dump->readTraining();
    a.report = std::move(report);
    a.layers = std::make_shared<LayerStore>(dump, layerBudget);
    return a;
}

DumpAnalysis analyzeDump(const std::shared_ptr<const RoutingDump> &dump, const AnalysisRequest &request,
                         const Progress &progress, const LayerReady &onLayer, std::size_t layerBudget)
{
    if (request.reroute || request.logitsLayersOnly || !request.onlyLayers.empty())
        throw std::invalid_argument("the window's analysis covers every layer as recorded");
    AnalysisRequest windowRequest = request;
    windowRequest.keepPasses = LayerStore::allFit(dump->info(), layerBudget);
    windowRequest.readTokens = true;
    AnalysisResult r = runAnalysis(*dump, windowRequest, progress, onLayer);
    DumpAnalysis a;
    a.info = std::move(r.info);
    a.tokenIds = std::move(r.tokenIds);
    a.vocab = std::move(r.vocab);
    a.report = std::move(r.report);
    a.training = std::move(r.training);
    auto store = std::make_shared<LayerStore>(dump, layerBudget);
    for (LayerAnalysis &l : r.layers)
        if (l.pass)
            store->adopt(l.position, std::move(*l.pass));
    a.layers = std::move(store);
    return a;
}

} // namespace moescope
