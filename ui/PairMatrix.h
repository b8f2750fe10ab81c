#pragma once
// Which experts go together, as the "Expert pairs" view and the `co-activation` and
// `transitions` exports show it: an E x E matrix of counts (routing.md,
// specialisation) with the row shares a reader asks about ("of the tokens at e1, how
// many also chose e2?").
#include "DumpSnapshot.h"

#include <cstdint>
#include <vector>

namespace moescope {
class RoutingBackend;
}

namespace moescope::ui {

enum class PairKind {
    CoActivation, // A[e1, e2] at `layer`: tokens that chose both (k > 1)
    Transitions,  // M[e1, e2]: best expert e1 at `layer`, e2 at `layer` + 1
};

struct PairMatrix {
    PairKind kind = PairKind::CoActivation;
    int layer = -1;
    int numExperts = 0;
    std::vector<std::int64_t> counts; // [E * E], row e1 first
    std::vector<std::int64_t> totals; // [E] rowTotal of each row, set with the counts
    QString device;                   // the backend that counted them

    bool isEmpty() const { return counts.empty(); }
    std::int64_t count(int e1, int e2) const { return counts[std::size_t(e1) * std::size_t(numExperts) + std::size_t(e2)]; }
    // The row's reference total: c[e1] for co-activation (the diagonal), the tokens
    // whose best expert is e1 for transitions (the row sum). Kept, not summed on each
    // call: the chart asks for every cell's share, E^2 times.
    std::int64_t rowTotal(int e1) const { return totals[std::size_t(e1)]; }
    void setCounts(std::vector<std::int64_t> matrix);
    // count / rowTotal; NaN for an empty row and for the co-activation diagonal (always 1).
    double share(int e1, int e2) const;
    // The share every cell would have if experts were picked independently and
    // uniformly: (k - 1) / (E - 1) for co-activation, 1 / E for transitions.
    double uniformShare(int topK) const;
};

// Whether the kind applies at `layer`: co-activation needs k > 1, transitions a next
// layer. `why` says what is missing.
bool pairsApply(const DumpSnapshot &snapshot, PairKind kind, int layer, QString *why = nullptr);

// Counts the pairs of the snapshot's choices on `backend`. The caller checks pairsApply.
PairMatrix countPairs(const DumpSnapshot &snapshot, PairKind kind, int layer, RoutingBackend &backend);

const char *pairKindChartName(PairKind kind); // "co-activation", "transitions"

} // namespace moescope::ui
