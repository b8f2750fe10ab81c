#pragma once
// What a capacity limit would drop (routing.md, "Capacity and dropping").
#include "stats/LayerChoices.h"

#include <cstdint>
#include <vector>

namespace moescope {

enum class DropPolicy { TokenOrder, ScorePriority, None };
enum class CapacityGroup { Dump, Sequence };

const char *dropPolicyName(DropPolicy p);

struct CapacityRequest {
    double capacityFactor = 1.25;
    DropPolicy policy = DropPolicy::TokenOrder;
    CapacityGroup group = CapacityGroup::Dump;
};

inline constexpr int kPositionBins = 10; // drops by relative position in a sequence

struct DropReport {
    std::int64_t capacity = 0;          // C of the whole dump (per-sequence: of the longest)
    std::int64_t assignments = 0;       // k * T
    std::int64_t dropped = 0;           // dropped assignments
    std::int64_t fullyDropped = 0;      // tokens that lost all k assignments
    double droppedFraction = 0;         // dropped / (k * T)
    double fullyDroppedFraction = 0;    // fullyDropped / T
    double stragglerFactor = 0;         // max c[e] / m, the dropless cost
    std::vector<std::int64_t> droppedPerExpert;   // [E]
    std::vector<std::int64_t> dropsByPosition;    // [kPositionBins], by t within its sequence
};

// One assignment: slot `slot` of the token at position `token`.
struct Assignment {
    std::int64_t token;
    int slot;
};

// The order in which the valid assignments of positions [begin, end) are admitted
// (into `order`, its storage reused): token order is slot 0 of every token, then
// slot 1, ...; score priority is descending gate probability, ties by position, then
// slot (choices.gateProbs needed).
void admissionOrder(const LayerChoices &choices, std::int64_t begin, std::int64_t end, DropPolicy policy,
                    std::vector<Assignment> &order);

// C = ceil(CF * k * T_g / E) for a group of T_g valid tokens.
std::int64_t expertCapacity(double capacityFactor, int topK, std::int64_t groupTokens, int numExperts);

// sequenceOffsets: [S+1] as in the dump. Score-priority needs choices.gateProbs
// (throws std::invalid_argument without them).
// counts: c[e] when the caller has them already (choices.counts() otherwise).
DropReport simulateCapacity(const LayerChoices &choices, const std::vector<std::int64_t> &sequenceOffsets,
                            const CapacityRequest &request, const std::vector<std::int64_t> *counts = nullptr);
// The same without the straggler factor, which alone needs the counts: a caller that
// counts on another thread sets it after with stragglerFactor. `counts`, when given,
// receives c[e] (choices.counts()), counted in the same pass under token order.
DropReport simulateDrops(const LayerChoices &choices, const std::vector<std::int64_t> &sequenceOffsets,
                         const CapacityRequest &request, std::vector<std::int64_t> *counts = nullptr);
// max c[e] / (k T / E); 0 without assignments.
double stragglerFactor(const std::vector<std::int64_t> &counts, std::int64_t assignments);

} // namespace moescope
