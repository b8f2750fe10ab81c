#pragma once
// One pass over one layer of a dump: stream the logits (and recorded choices) chunk
// by chunk from the reader, route them with a backend, and keep what statistics need.
#include "io/Progress.h"
#include "io/RoutingDump.h"
#include "routing/RoutingBackend.h"
#include "stats/CompactChoices.h"

#include <optional>

namespace moescope {

struct LayerPassRequest {
    // Re-route from the logits with these rules; nullopt: use the recorded topk_ids,
    // or, for a layer without them, route with the dump's own rules.
    std::optional<RoutingRules> reroute;
    bool keepGateProbs = false;        // fill LayerChoices::gateProbs (score-priority)
    RoutingBackend *backend = nullptr; // null: a CPU backend
    std::uint64_t chunkRows = 0;       // 0: about 16 MB of logits per chunk
    // A finished pass's choices whose buffers this pass takes over: at a million
    // tokens, fresh pages and zeroing them cost a fifth of `stats`.
    LayerChoices *recycle = nullptr;
};

struct LayerPass {
    LayerChoices choices;
    bool choicesRecorded = false;      // from topk_ids rather than routed here
    bool hasLosses = false;            // the layer has logits
    std::vector<std::int64_t> routedCounts; // c[e] as the backend counted them while routing; empty otherwise
    std::vector<double> meanProb;      // P[e] over tokens with valid logits
    double zLoss = 0;                  // NaN when the "logits" are probabilities
    std::int64_t invalidTokens = 0;    // rows of logits with NaN or infinity
    std::optional<double> agreement;   // re-routed set == recorded set, over valid tokens
};

// A pass held small (analysis/LayerStore.h): its figures as they are, its choices
// compact (stats/CompactChoices.h).
struct CompactPass {
    LayerPass figures; // figures.choices is empty
    CompactChoices choices;
};
// The pass held small; compactIdBytes(p.choices) must not be 0.
CompactPass compactPass(const LayerPass &p);
// The pass again, its choices widened to 32-bit ids.
LayerPass widenPass(const CompactPass &p);

LayerPass runLayerPass(const RoutingDump &dump, std::size_t layer, const LayerPassRequest &request,
                       const Progress &progress = {});

} // namespace moescope
