#pragma once
// Everything the desktop views show about one dump, computed in one go: the choices
// of every layer (kept, unlike buildReport, so views can slice them by token, expert
// or sequence without reading the file again), the per-layer health report, the token
// ids and their texts, and the /training series.
//
// Memory: about (4 k + 1) bytes per token and layer for the choices, plus 8 bytes per
// token for the ids. Thread-safety: a finished DumpAnalysis is immutable and may be
// read from any thread. analyzeDump throws DumpError on malformed data and Cancelled
// when the progress's cancel flag is set.
#include "analysis/AnalysisPipeline.h"
#include "io/Progress.h"
#include "io/RoutingDump.h"

#include <optional>
#include <string>
#include <vector>

namespace moescope {

struct DumpAnalysis {
    DumpInfo info;
    std::vector<std::int64_t> tokenIds;   // [T]
    std::vector<std::string> vocab;       // [V], empty without /tokens/vocab
    std::vector<LayerPass> passes;        // one per layer, in info.layers order
    DumpReport report;                    // layers in the same order as passes
    std::optional<TrainingSeries> training;

    std::int64_t numTokens() const { return info.numTokens; }
    std::size_t numLayers() const { return passes.size(); }
    // The text of the token at `position` (its vocab entry, or "#id").
    std::string textAt(std::int64_t position) const;
    // The sequence that holds `position` (0 when the dump has a single one).
    std::int64_t sequenceOf(std::int64_t position) const;
    // The best (first) expert of `position` at `layer`, or -1 for an invalid token.
    int bestExpert(std::size_t layer, std::int64_t position) const;
};

// The pipeline's result for the window: `request` with keepPasses and readTokens set.
// `onLayer` sees each layer as soon as it is ready (AnalysisPipeline.h).
DumpAnalysis analyzeDump(const RoutingDump &dump, const AnalysisRequest &request, const Progress &progress = {},
                         const LayerReady &onLayer = {});

} // namespace moescope
