#include "analysis/DumpAnalysis.h"

#include <algorithm>

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

DumpAnalysis analyzeDump(const RoutingDump &dump, const AnalysisRequest &request, const Progress &progress)
{
    // Shares of the progress bar: the token arrays are quick, the layers are the work.
    constexpr double kTokensPart = 0.04, kTrainingPart = 0.02;
    DumpAnalysis a;
    a.info = dump.info();
    const DumpInfo &info = a.info;

    progress.checkCancelled();
    a.tokenIds = dump.readTokenIds(0, std::uint64_t(info.numTokens));
    a.vocab = dump.readVocab();
    progress.report(kTokensPart);

    ReportRequest reportRequest;
    reportRequest.capacityFactor = effectiveCapacityFactor(info, request.capacityFactor);
    reportRequest.backend = request.backend;
    a.report.file = info.path;
    a.report.tokens = info.numTokens;
    a.report.numExperts = info.numExperts;
    a.report.topK = info.topK;
    a.report.capacityFactor = reportRequest.capacityFactor;
    a.report.warnings = info.warnings;

    const Progress layers = progress.part(kTokensPart, 1.0 - kTrainingPart);
    const std::size_t L = info.layers.size();
    a.passes.reserve(L);
    for (std::size_t l = 0; l < L; ++l) {
        LayerPassRequest passRequest;
        passRequest.backend = request.backend;
        a.passes.push_back(runLayerPass(dump, l, passRequest, layers.part(double(l) / L, double(l + 1) / L)));
        a.report.layers.push_back(layerReport(info, l, a.passes.back(), reportRequest));
    }
    if (info.hasTraining)
        a.training = dump.readTraining();
    progress.report(1.0);
    return a;
}

} // namespace moescope
