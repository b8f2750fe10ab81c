#pragma once
// The figures of analyses.md that compare checkpoints of one run, for one layer, over
// the same tokens: router saturation (OLMoE), load drift, expert identity (token-set
// Jaccard) and the last fluctuation (StableMoE). Chunks of positions are added one
// after another, so a layer never needs to be in memory whole; the result depends
// only on the positions added, not on how they were cut. Plain computation, no I/O.
#include <cstdint>
#include <optional>
#include <vector>

namespace moescope {

// One checkpoint compared with the reference at one layer.
struct CheckpointFigures {
    double saturation = 0;           // mean |S_C ∩ S_R| / k over tokens valid in both
    double saturationTop1 = 0;       // share of those tokens with the same best expert
    double loadDrift = 0;            // 0.5 * sum_e |u_C[e] - u_R[e]|
    std::vector<double> loadChange;  // [E] u_C[e] - u_R[e]
    std::vector<double> utilization; // [E] u_C[e]
    std::vector<double> expertJaccard; // [E] Jaccard(tokens_C(e), tokens_R(e)); NaN when both empty
    double meanJaccard = 0;          // mean over the experts with a Jaccard
    std::int64_t tokensInBoth = 0;
};

struct CheckpointLayerFigures {
    std::vector<CheckpointFigures> checkpoints; // one per checkpoint; the reference's own entry compares it with itself
    std::vector<double> referenceUtilization;   // [E] u_R[e]
    // One per checkpoint: the share of tokens (valid in every checkpoint) whose last
    // fluctuation before the reference is at that checkpoint or a later one in step
    // order. Empty with fewer than three checkpoints.
    std::vector<double> lastFluctuation;
    std::int64_t fluctuationTokens = 0;         // the tokens those shares are over
};

class CheckpointAccumulator {
public:
    // order: the checkpoints (indices) in step order, the reference among them.
    CheckpointAccumulator(int numExperts, int topK, std::size_t numCheckpoints, std::size_t reference,
                          std::vector<std::size_t> order);

    // `rows` positions of every checkpoint: ids[c] holds rows * k choices (best first),
    // valid[c] one flag per row.
    void add(const std::vector<const std::int32_t *> &ids, const std::vector<const std::uint8_t *> &valid,
             std::size_t rows);

    CheckpointLayerFigures figures() const;

private:
    int m_E, m_k;
    std::size_t m_n, m_ref;
    std::vector<std::size_t> m_order;
    std::vector<std::size_t> m_orderPos;     // [n] position of each checkpoint in m_order
    std::vector<std::int64_t> m_validTokens; // [n]
    std::vector<std::int64_t> m_counts;      // [n * E] c_C[e]
    std::vector<std::int64_t> m_both;        // [n * E] tokens with e in S_C and in S_R
    std::vector<std::int64_t> m_overlap;     // [n] sum |S_C ∩ S_R|
    std::vector<std::int64_t> m_sameTop1;    // [n]
    std::vector<std::int64_t> m_tokensInBoth; // [n]
    std::vector<std::int64_t> m_lastAt;      // [n] tokens whose last fluctuation is at order position p
    std::int64_t m_fluctuationTokens = 0;
};

} // namespace moescope
