#pragma once
// What a placement costs one layer (placement.md in docs/): rank loads, the
// straggler factor, drops under per-expert and per-rank capacity, and the all-to-all
// traffic. Everything but the all-to-all needs only the layer's counts (a load-only
// layer); the all-to-all needs every token's choices.
#include "placement/ExpertPlacement.h"
#include "stats/LayerChoices.h"

#include <optional>
#include <vector>

namespace moescope {

// L[r]: tokens processed on rank r; an expert with r replicas gives load[e] / r to
// each. sum_r L[r] = sum_e load[e].
std::vector<double> rankLoads(const ExpertPlacement &placement, const std::vector<double> &load);

// max_r L[r] / mean_r L[r]; NaN when there is no load.
double stragglerFactor(const std::vector<double> &rankLoad);

// Over a model: sum over layers of max_r L[r] / sum over layers of mean_r L[r].
double modelStragglerFactor(const std::vector<std::vector<double>> &rankLoadPerLayer);

// Dropped assignments / (k * T) with C = ceil(CF * k * T / E) per expert (routing.md;
// what any drop order loses). assignments: k * T. NaN when assignments = 0.
double expertDroppedFraction(const std::vector<double> &load, double assignments, double capacityFactor);

// The same with capacity pooled per rank: CF * k * T / R per rank.
double rankPooledDroppedFraction(const std::vector<double> &rankLoad, double assignments, double capacityFactor);

struct AllToAll {
    int ranks = 0;
    std::vector<double> volume; // [R * R], V[s * R + d]: assignments of tokens on s to experts on d
    double total = 0;           // sum of V: k * T
    double leavingShare = 0;    // sum over s != d / total; NaN when total = 0
    double at(int s, int d) const { return volume[std::size_t(s) * ranks + d]; }
};

// Tokens on source ranks in contiguous blocks of positions (position t of P on rank
// floor(t * R / P)); each valid token's distinct chosen experts are assignments,
// and an expert with r replicas sends 1 / r of each to every replica's rank. One
// pass over the choices.
AllToAll allToAll(const LayerChoices &choices, const ExpertPlacement &placement);

// One layer's figures under a placement.
struct LayerPlacementFigures {
    ExpertPlacement placement;
    std::vector<double> rankLoad;
    double straggler = 0;
    double droppedFraction = 0;
    double rankPooledDroppedFraction = 0;
    std::optional<AllToAll> allToAll; // nullopt without the tokens' choices
};

// load: the layer's counts (what it is evaluated on); planLoad: what drives EPLB (the
// same, or another dump's); assignments: k * T; choices may be null (load-only).
LayerPlacementFigures evaluatePlacement(const PlacementSettings &settings, const std::vector<double> &planLoad,
                                        const std::vector<double> &load, double assignments,
                                        double capacityFactor, const LayerChoices *choices);

} // namespace moescope
