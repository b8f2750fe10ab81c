#pragma once
// Which experts go together, as the "Expert pairs" view and the `co-activation` and
// `transitions` exports show it: an E x E matrix of counts (routing.md,
// specialisation) with its row shares, counted on a routing backend.
#include "DumpSnapshot.h"
#include "stats/ExpertPairs.h"

#include <cstdint>
#include <vector>

namespace moescope {
class RoutingBackend;
}

namespace moescope::ui {

using moescope::PairKind; // the views name it as their own

// The counts and shares are core's ExpertPairCounts; this adds where they come from.
struct PairMatrix : ExpertPairCounts {
    int layer = -1;   // co-activation at `layer`; transitions from `layer` to `layer` + 1
    QString device;   // the backend that counted them
};

// Whether the kind applies at `layer`: co-activation needs k > 1, transitions a next
// layer. `why` says what is missing.
bool pairsApply(const DumpSnapshot &snapshot, PairKind kind, int layer, QString *why = nullptr);

// Counts the pairs of the snapshot's choices on `backend`. The caller checks pairsApply.
PairMatrix countPairs(const DumpSnapshot &snapshot, PairKind kind, int layer, RoutingBackend &backend);

const char *pairKindChartName(PairKind kind); // "co-activation", "transitions"

} // namespace moescope::ui
