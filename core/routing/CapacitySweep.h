#pragma once
// Every capacity factor of a range in one pass (`route --sweep-capacity A:B:STEP`).
//
// Under either drop policy an assignment is admitted exactly when fewer than C
// assignments to its expert came before it in the admission order (routing.md,
// "Capacity and dropping"): the earlier ones fill the expert first, whatever C is. So
// one ranking of the assignments answers every capacity at once: assignment (t, s) is
// dropped under capacity C iff rank[t, s] >= C, and token t loses all its k
// assignments iff its best rank is >= C.
#include "stats/CapacityDrops.h"
#include "stats/LayerChoices.h"

#include <cstdint>
#include <vector>

namespace moescope {

// The admission ranks of one layer's valid tokens, in position order.
struct CapacityRanks {
    int numExperts = 0, topK = 0;
    std::vector<std::int32_t> ranks;        // [Tv * k] place in the expert's queue, 0 first
    std::vector<std::int32_t> minRank;      // [Tv] the best rank of each valid token
    std::vector<std::int32_t> group;        // [Tv] capacity group (0 .. G-1) of each valid token
    std::vector<std::int64_t> groupTokens;  // [G] valid tokens per group
    std::int64_t validTokens() const { return std::int64_t(minRank.size()); }
};

// Ranks by `policy` (TokenOrder or ScorePriority; None ranks as TokenOrder) within the
// groups `grouping` makes of `sequenceOffsets`. Score-priority needs choices.gateProbs;
// throws std::invalid_argument without them, or when a group has 2^31 assignments.
CapacityRanks rankAssignments(const LayerChoices &choices, const std::vector<std::int64_t> &sequenceOffsets,
                              DropPolicy policy, CapacityGroup grouping);

struct CapacitySweepResult {
    std::vector<double> factors;
    std::vector<std::int64_t> capacity;     // [N] C of the whole dump, or of the largest group
    std::vector<std::int64_t> dropped;      // [N] dropped assignments
    std::vector<std::int64_t> fullyDropped; // [N] tokens that lost all k assignments
    std::vector<double> droppedFraction;    // [N] dropped / (k * Tv)
    std::vector<double> fullyDroppedFraction; // [N] fullyDropped / Tv
};

// The capacity table C[g * N + j] = expertCapacity(factors[j], k, groupTokens[g], E).
std::vector<std::int64_t> capacityTable(const CapacityRanks &ranks, const std::vector<double> &factors);

// The sweep on the CPU: rank histograms per group, then suffix sums (O(T k + G N)).
CapacitySweepResult sweepCapacityOnCpu(const CapacityRanks &ranks, const std::vector<double> &factors);

// Fills the fractions of `r` from its counts (shared by the CPU and GPU sweeps).
void finishSweep(const CapacityRanks &ranks, CapacitySweepResult &r);

// A, A + STEP, ... up to B inclusive (with a rounding allowance). Throws
// std::invalid_argument unless 0 < A <= B, STEP > 0 and at most 100000 factors.
std::vector<double> capacityFactorRange(double from, double to, double step);

} // namespace moescope
