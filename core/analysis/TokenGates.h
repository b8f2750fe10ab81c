#pragma once
// The experts and gate weights of one token at one layer, for tooltips: read on
// demand (one row) rather than kept for every token, since the views only ever ask
// about the token under the mouse.
#include "io/RoutingDump.h"

#include <cstdint>
#include <vector>

namespace moescope {

struct TokenGates {
    std::vector<std::int32_t> experts; // best first; empty for an invalid token
    std::vector<float> weights;        // same length as experts, or empty when unknowable
    bool recorded = false;             // from topk_ids (else routed from the logits here)
    bool weightsRecorded = false;      // weights from topk_weights (else from the logits)
};

// Throws DumpError on unreadable data and std::out_of_range on a bad layer or position.
TokenGates tokenGates(const RoutingDump &dump, std::size_t layer, std::int64_t position);

} // namespace moescope
