#pragma once
// The experts every token of one layer went to: the input of all statistics. Built
// by the analysis pass (from recorded topk_ids or by routing logits); plain arrays so
// tests can build one by hand.
#include "common/LargeBuffer.h"

#include <cstdint>
#include <vector>

namespace moescope {

struct LayerChoices {
    int numExperts = 0;                 // E
    int topK = 0;                       // k
    LargeVector<std::int32_t> ids;      // [T * k], best first; rows of invalid tokens are unused
    LargeVector<std::uint8_t> valid;    // [T], 0 for tokens left out (NaN/inf logits)
    LargeVector<float> gateProbs;       // [T * k] p[t, e] of each choice; empty when unknown

    std::int64_t numPositions() const { return std::int64_t(valid.size()); }
    std::int64_t validTokens() const;
    // c[e]: valid tokens whose chosen experts include e (a repeated id counts once).
    std::vector<std::int64_t> counts() const;
    // Whether token t chose expert e.
    bool chose(std::int64_t t, int e) const;
};

} // namespace moescope
