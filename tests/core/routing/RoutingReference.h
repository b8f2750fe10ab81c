#pragma once
// A plain scalar implementation of docs/routing.md written for the tests
// alone: sorting instead of selection, no vectors, no shared code with core/routing
// (only its plain request structs). Slow and obvious on purpose.
#include "routing/RoutingRules.h"

#include <cstdint>
#include <vector>

namespace moescope::test {

struct ReferenceLayer {
    int numExperts = 0, topK = 0;
    std::vector<std::uint8_t> valid;   // [T]
    std::vector<std::int32_t> ids;     // [T * k]
    std::vector<double> weights;       // [T * k]
    std::vector<double> gateProbs;     // [T * k] p of each choice
    std::vector<double> keys;          // [T * E] what the choice compared (-inf: not eligible)
    std::vector<std::int64_t> counts;  // [E]
    std::vector<double> probSum;       // [E] sum of softmax p over valid rows
    double zSquaredSum = 0;
    std::int64_t validRows = 0;
};

// Routes T rows of E logits (values exactly as the backend sees them).
ReferenceLayer referenceRoute(const std::vector<double> &logits, int T, int E, const RoutingRules &rules);

// Capacity simulation (routing.md, "Capacity and dropping"). offsets: [S+1] or empty.
struct ReferenceDrops {
    std::int64_t dropped = 0, fullyDropped = 0;
};
ReferenceDrops referenceDrops(const ReferenceLayer &layer, const std::vector<std::int64_t> &offsets,
                              double capacityFactor, bool scorePriority, bool perSequence);

// Expert-choice routing: per group, each expert takes its C = ceil(CF k T_g / E) best
// valid tokens by score p[t, e] (ties to the earlier token).
struct ReferenceExpertChoice {
    std::vector<std::int64_t> capacity;     // per group
    std::vector<std::int64_t> taken;        // [E] tokens each expert took
    std::vector<std::int32_t> expertsOfToken; // [T] how many experts took each token (0 for invalid)
    std::int64_t unrouted = 0;              // valid tokens no expert took
};
ReferenceExpertChoice referenceExpertChoice(const std::vector<double> &logits, int T, int E,
                                            const RoutingRules &rules, const std::vector<std::int64_t> &offsets,
                                            double capacityFactor, bool perSequence);

// Auxiliary-loss-free balancing (DeepSeek-V3): batches of B positions; choose with the
// current bias b (starting at 0), then b[e] += u * sign(mean load - c[e]).
struct ReferenceBalance {
    std::vector<double> maxVioWith, maxVioWithout; // per batch (NaN: no valid token)
    std::vector<double> finalBias;
};
ReferenceBalance referenceBalance(const std::vector<double> &logits, int T, int E, const RoutingRules &rules,
                                  double rate, int batchTokens);

} // namespace moescope::test
