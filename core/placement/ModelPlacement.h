#pragma once
// A placement tried on every layer of a model: each layer planned on its own load
// (or on another dump's, "plan on checkpoint A, run on checkpoint B") and evaluated
// on the counts (and, where the tokens are known, the choices) of the dump at hand.
#include "analysis/DumpReport.h"
#include "placement/PlacementFigures.h"

#include <string>
#include <vector>

namespace moescope {

// One layer as a placement sees it.
struct PlacementLayerInput {
    std::string name;
    std::vector<double> load;            // c[e]
    double assignments = 0;              // k * T
    const LayerChoices *choices = nullptr; // null: load only, no all-to-all
};

struct ModelPlacement {
    PlacementSettings settings;
    double capacityFactor = 0;
    std::vector<std::string> names;             // per layer
    std::vector<LayerPlacementFigures> layers;  // per layer
    double modelStraggler = 0;                  // sum of max L / sum of mean L
};

// The layers of a report; `choices` (one per report layer, or null) gives the
// all-to-all.
std::vector<PlacementLayerInput> placementInputs(const DumpReport &report,
                                                 const std::vector<const LayerChoices *> &choices = {});

// planLoads: one load vector per layer to plan on; empty: each layer's own load.
// Throws std::invalid_argument on settings that break a rule (placementRuleBroken)
// or plan loads of another shape.
ModelPlacement placeModel(const PlacementSettings &settings, const std::vector<PlacementLayerInput> &layers,
                          double capacityFactor, const std::vector<std::vector<double>> &planLoads = {});

} // namespace moescope
