#pragma once
// Everything the desktop views show about one dump, computed in one go: the per-layer
// health report, the token ids and their texts, the /training series, and the choices
// of every layer for the views that slice them by token, expert or sequence (a
// LayerStore: all kept when they fit its budget, else read again on demand).
//
// Memory: 8 bytes per token for the ids, plus the store's budget at most. Thread-safety:
// a finished DumpAnalysis is immutable (its store is thread-safe) and may be read from
// any thread. analyzeDump throws DumpError on malformed data and Cancelled when the
// progress's cancel flag is set.
#include "analysis/AnalysisPipeline.h"
#include "analysis/LayerStore.h"
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
    std::shared_ptr<const LayerStore> layers; // every layer's choices, in info.layers order
    DumpReport report;                    // layers in info.layers order
    std::optional<TrainingSeries> training;

    std::int64_t numTokens() const { return info.numTokens; }
    std::size_t numLayers() const { return report.layers.size(); }
    // Layer `layer`'s choices, read now when they are not in memory (LayerStore::pass).
    // Throws std::logic_error on an analysis still loading (no store yet).
    LayerPassPtr pass(std::size_t layer, const Progress &progress = {}) const;
    // The text of the token at `position` (its vocab entry, or "#id").
    std::string textAt(std::int64_t position) const;
    // The sequence that holds `position` (0 when the dump has a single one).
    std::int64_t sequenceOf(std::int64_t position) const;
    // The best (first) expert of `position` at `layer`, or -1 for an invalid token or
    // a layer not in memory (never reads: the GUI thread asks).
    int bestExpert(std::size_t layer, std::int64_t position) const;
};

// The pipeline's result for the window: `request` with readTokens set, and keepPasses
// while every layer fits the store's budget.
// `onLayer` sees each layer as soon as it is ready (AnalysisPipeline.h).
// `layerBudget`: the bytes of layer choices kept in memory (LayerStore).
DumpAnalysis analyzeDump(const std::shared_ptr<const RoutingDump> &dump, const AnalysisRequest &request,
                         const Progress &progress = {}, const LayerReady &onLayer = {},
                         std::size_t layerBudget = LayerStore::kDefaultBudget);

// The window's analysis from a report computed before (the summary cache) for a dump
// whose layers do not all fit the budget: the tokens, vocabulary and /training are
// read, no layer is (views read them on demand). Opens a large dump in about the time
// its token ids take to read.
DumpAnalysis analysisFromReport(const std::shared_ptr<const RoutingDump> &dump, DumpReport report,
                                std::size_t layerBudget = LayerStore::kDefaultBudget);

} // namespace moescope
