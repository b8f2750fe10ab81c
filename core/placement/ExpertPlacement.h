#pragma once
// Where the experts of one MoE layer live under expert parallelism (placement.md in
// docs/): E logical experts on R ranks, as P physical slots (P - E redundant
// replicas), P / R slots per rank; slot s lives on rank s / (P / R).
#include <string>
#include <vector>

namespace moescope {

enum class PlacementPolicy { Contiguous, RoundRobin, Eplb };

const char *placementPolicyName(PlacementPolicy policy);

struct PlacementSettings {
    int ranks = 1;                                  // R
    PlacementPolicy policy = PlacementPolicy::Contiguous;
    int physicalExperts = 0;                        // P (EPLB only); 0: P = E, no replicas
    int groups = 1;                                 // G (EPLB): expert groups
    int nodes = 1;                                  // N (EPLB): nodes of R / N ranks each
};

// One layer's placement.
struct ExpertPlacement {
    int numExperts = 0;                 // E
    int ranks = 0;                      // R
    std::vector<int> slotExpert;        // [P] logical expert held by each physical slot
    std::vector<int> replicas;          // [E] physical slots of each expert (>= 1)

    int slotsPerRank() const { return ranks > 0 ? int(slotExpert.size()) / ranks : 0; }
    int rankOfSlot(int slot) const { return slot / slotsPerRank(); }
    // The ranks holding expert e's replicas, one entry per replica, ascending slot.
    std::vector<int> ranksOf(int expert) const;
};

// The first rule the settings break for a layer of E experts, in words (to be shown
// as is), or an empty string when they are valid: R >= 1; E a multiple of R without
// replicas; P >= E and a multiple of R; G >= 1 dividing E; N >= 1 dividing R;
// replicas only with EPLB.
std::string placementRuleBroken(const PlacementSettings &settings, int numExperts);

// The placement of a layer of E = planLoad.size() experts under the settings;
// planLoad (tokens per expert, >= 0) drives EPLB and is ignored by the fixed layouts.
// Throws std::invalid_argument when placementRuleBroken says so.
ExpertPlacement placeExperts(const PlacementSettings &settings, const std::vector<double> &planLoad);

} // namespace moescope
