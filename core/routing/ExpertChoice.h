#pragma once
// Expert-choice routing (Zhou et al. 2022) as a what-if: instead of each token picking
// k experts, each expert takes its C best tokens by score, C = ceil(CF * k * T_g / E)
// for a capacity group of T_g valid tokens (the whole dump, or one sequence). Loads
// are perfectly even by construction; the price is tokens that no expert takes, which
// is what this reports. Scores are p[t, e] of the rules' scoring in double (the bias
// shifts one expert's scores equally, so it never changes whom an expert takes); ties
// go to the earlier token.
//
// Memory: one bounded selection per expert, at most E * 9C/8 entries of 12 bytes for
// the largest group. Fed chunk by chunk in position order; not thread-safe (one feeder).
#include "routing/RoutingBackend.h"
#include "routing/ThreadPool.h"

#include <cstdint>
#include <memory>
#include <vector>

namespace moescope {

struct ExpertChoiceResult {
    std::vector<std::int64_t> capacity;        // [G] C of each capacity group
    std::vector<std::int64_t> taken;           // [E] tokens each expert took
    std::vector<std::int32_t> expertsOfToken;  // [T] experts that took each position (0 if invalid)
    std::int64_t validTokens = 0;
    std::int64_t unrouted = 0;                 // valid tokens no expert took
    std::vector<std::int64_t> unroutedByPosition; // [kPositionBins] by relative place in the sequence
    double unroutedFraction() const { return validTokens ? double(unrouted) / double(validTokens) : 0.0; }
};

class ExpertChoiceRouter {
public:
    // groupBounds: [G+1] position bounds of the capacity groups (first 0, last T);
    // validPerGroup: [G] valid tokens of each (the capacities depend on them, so a
    // routing pass comes first). threads 0: one per hardware thread.
    ExpertChoiceRouter(int numExperts, const RoutingRules &rules, double capacityFactor,
                       std::vector<std::int64_t> groupBounds, std::vector<std::int64_t> validPerGroup,
                       unsigned threads = 0);
    ~ExpertChoiceRouter();

    // The next rows, starting at position `begin` (chunks in position order).
    void add(const LogitsView &chunk, std::int64_t begin);
    // sequenceOffsets ([S+1], or empty for one sequence) place the unrouted tokens.
    ExpertChoiceResult finish(const std::vector<std::int64_t> &sequenceOffsets);

private:
    // Packed: E * C of them are alive at once. Positions fit 32 bits (checked).
    struct __attribute__((packed)) Candidate {
        double score;
        std::int32_t token;
    };
    // An expert's selection: candidates that may still be among its C best, unordered;
    // none at or below `bar` (the C-th best when last trimmed) is let in.
    struct Selection {
        std::vector<Candidate> kept;
        double bar = 0;
        bool hasBar = false;
    };
    void trim(Selection &s) const;
    void closeGroup();
    void openGroup(std::size_t g);

    int m_numExperts;
    RoutingRules m_rules;
    double m_capacityFactor;
    std::vector<std::int64_t> m_bounds, m_validPerGroup;
    std::unique_ptr<ThreadPool> m_pool;
    std::size_t m_group = 0;
    std::int64_t m_capacity = 0;
    std::vector<Selection> m_kept;              // per expert
    std::vector<double> m_scores;               // [rows * E] of the current piece
    std::vector<std::uint8_t> m_valid;      // [rows] of the current piece
    std::vector<std::uint8_t> m_tokenValid; // [T]
    ExpertChoiceResult m_result;
};

} // namespace moescope
