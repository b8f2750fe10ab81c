#pragma once
// The one analysis pipeline: every entry point (the window, the what-if panel,
// `stats`, `route`, `profile`, `export`, the benchmark) asks it for what it needs of a
// dump with one request and gets one result. Per layer it streams the logits and the
// recorded choices through a routing backend (LayerPass), then builds the health
// report (DumpReport) and the what-ifs asked for:
//   - the recorded statistics (the default), or the routing re-run under other rules;
//   - the before/after comparison with the recorded routing under the same capacity;
//   - the capacity sweep, expert-choice routing and the bias balancing replay.
//
// Results are staged: `onLayer` sees each layer's results as soon as they are ready,
// in layer order, so a view can paint the first layers while the rest load. A layer's
// statistics run on a thread of their own while the next layer is routed (on the
// backend's threads); at most two layers' passes are alive at a time unless the
// request keeps them.
//
// Thread-safety: runAnalysis is synchronous and may run on any thread; `onLayer` is
// called on that thread. Throws DumpError on malformed data, Cancelled when the
// progress's flag is set, std::invalid_argument on a malformed request.
#include "analysis/DumpReport.h"
#include "analysis/LayerPass.h"
#include "io/Progress.h"
#include "io/RoutingDump.h"
#include "routing/BalanceSimulation.h"
#include "routing/CapacitySweep.h"
#include "routing/ExpertChoice.h"

#include <memory>

#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace moescope {

class LayerStore;

struct BalanceRequest {
    double rate = 0;                 // U, the bias update rate (> 0)
    std::int64_t batchTokens = 4096; // B, tokens per balancing batch (>= 1)
};

struct AnalysisRequest {
    std::optional<double> capacityFactor; // nullopt: the dump's own, else 1.25
    CapacityRequest drops;                // policy and grouping (its capacityFactor is ignored)
    // Re-route from the logits with these rules (each layer keeps its own bias and
    // probability flag); only layers with logits are analysed then.
    std::optional<RoutingRules> reroute;
    bool logitsLayersOnly = false;        // skip layers without logits (implied by reroute)
    std::vector<std::size_t> onlyLayers;  // these positions in info.layers only; empty: all
    bool keepPasses = false;              // keep every layer's choices (the window slices them)
    bool readTokens = false;              // token ids, vocab and /training (the window)
    // Vocabulary specialisation in each layer's report (reads the token ids); the
    // minimum occurrences of an id for it to count.
    bool vocabulary = true;
    std::int64_t vocabularyMinCount = kDefaultVocabularyMinCount;
    // Before/after: each layer also reported from the recorded routing under the same
    // capacity. `recorded`, when given, holds those passes (one per layer of the dump,
    // as the window keeps them); otherwise they are read again.
    bool compareWithRecorded = false;
    const LayerStore *recorded = nullptr;
    std::optional<std::vector<double>> capacitySweep; // drops for each of these factors
    bool expertChoice = false;            // each expert takes its C best tokens
    std::optional<BalanceRequest> balance;
    RoutingBackend *backend = nullptr;    // null: a CPU backend
};

// One layer's results.
struct LayerAnalysis {
    std::size_t position = 0;             // in info.layers
    LayerReport report;
    std::optional<LayerReport> recorded;  // compareWithRecorded: the before
    std::optional<CapacitySweepResult> sweep;
    std::optional<ExpertChoiceResult> expertChoice;
    std::optional<BalanceResult> balance;
    std::optional<LayerPass> pass;        // in onLayer always; in the result with keepPasses
};

struct AnalysisResult {
    DumpInfo info;
    DumpReport report;                    // layers in analysis order
    std::vector<LayerAnalysis> layers;    // the same order; report.layers[i] == layers[i].report
    // readTokens:
    std::vector<std::int64_t> tokenIds;   // [T]
    std::vector<std::string> vocab;       // [V], empty without /tokens/vocab
    std::optional<TrainingSeries> training;
    CapacityRequest drops;                // as applied (with the effective capacity factor)
    DropPolicy sweepPolicy = DropPolicy::TokenOrder; // the order the capacity sweep ranks by
};

using LayerReady = std::function<void(const LayerAnalysis &)>;

AnalysisResult runAnalysis(const RoutingDump &dump, const AnalysisRequest &request, const Progress &progress = {},
                           const LayerReady &onLayer = {});

// runAnalysis(...).report: the statistics alone.
DumpReport buildReport(const RoutingDump &dump, const AnalysisRequest &request, const Progress &progress = {});

// The layers a request analyses, in order (positions in info.layers).
std::vector<std::size_t> analysedLayers(const DumpInfo &info, const AnalysisRequest &request);

// The capacity sweep ranks assignments by the drop policy; without dropping (where
// every policy drops nothing), by token order.
DropPolicy sweepPolicyFor(DropPolicy policy);

} // namespace moescope
