#pragma once
// Auxiliary-loss-free load balancing (DeepSeek-V3) replayed on a dump: the tokens are
// walked in batches of B positions; each batch is routed with the current bias b
// (starting at 0; it replaces the layer's own bias), then every expert's bias moves
// by the update rate u towards the mean load: b[e] += u * sign(mean load - c[e]).
// For each batch the MaxVio (routing.md) is reported with the bias and without any
// bias, so the two can be compared, and the bias reached at the end.
//
// Fed chunk by chunk in position order (any chunking: batches are cut here); the
// routing runs on the given backend, so the GPU serves it too. Not thread-safe.
#include "routing/RoutingBackend.h"

#include <cstdint>
#include <vector>

namespace moescope {

struct BalanceResult {
    std::vector<double> maxVioWith;    // per batch; NaN for a batch without valid tokens
    std::vector<double> maxVioWithout; // per batch
    std::vector<double> finalBias;     // [E]
};

class BalanceSimulator {
public:
    // rules: the routing rules (their own expertBias is ignored); rate: u > 0;
    // batchTokens: B >= 1. Throws std::invalid_argument otherwise.
    BalanceSimulator(RoutingBackend &backend, const RoutingRules &rules, int numExperts, double rate,
                     std::int64_t batchTokens);

    void add(const LogitsView &chunk);
    BalanceResult finish();

private:
    void routePiece(const LogitsView &piece);
    void closeBatch();

    RoutingBackend &m_backend;
    RoutingRules m_with, m_without;
    int m_numExperts;
    double m_rate;
    std::int64_t m_batchTokens;
    std::int64_t m_inBatch = 0;                 // positions of the open batch so far
    std::vector<std::int64_t> m_countsWith, m_countsWithout;
    std::int64_t m_validWith = 0, m_validWithout = 0;
    std::vector<std::int32_t> m_ids;
    std::vector<std::uint8_t> m_valid;
    BalanceResult m_result;
};

} // namespace moescope
