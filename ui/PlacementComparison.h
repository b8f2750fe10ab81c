#pragma once
// Two expert-parallel placements of one dump side by side ("before" and "after",
// docs/placement.md): what the Placement view, `export --chart placement` and the
// report show. Computed off the GUI thread; immutable once built.
#include "DumpSnapshot.h"
#include "placement/ModelPlacement.h"

namespace moescope::ui {

struct PlacementRequest {
    PlacementSettings before, after;
};

struct PlacementComparison {
    PlacementRequest request;
    ModelPlacement before, after;
    std::vector<std::vector<double>> loads; // c[e] per layer, what both are evaluated on
    int numExperts = 0;
    bool hasTokens = false; // the all-to-all is known (the dump holds the choices)
};

// Settings for a dump of E experts when the user has chosen none: R the largest
// divisor of E up to 8; before: contiguous; after: EPLB with one redundant replica
// per rank (P = E + R), one group, one node.
PlacementRequest defaultPlacementRequest(int numExperts);

// Both placements on every layer of the snapshot, each planned on the layer's own
// counts. Throws std::invalid_argument on settings that break a rule.
PlacementComparison comparePlacements(const DumpSnapshot &snapshot, const PlacementRequest &request,
                                      const Progress &progress = {});

// "contiguous", "round-robin", "EPLB (P = 72, G = 1, N = 1)".
QString placementTitle(const PlacementSettings &settings, int numExperts);

} // namespace moescope::ui
