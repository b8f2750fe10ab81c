#pragma once
// Experts seen together: within a token (co-activation) and from one layer to the
// next (transitions). Both E x E, row-major. The counting functions here are the
// reference the routing backends' faster counts are tested against; ExpertPairCounts
// holds the shares every view, export and command shows of them.
#include "stats/LayerChoices.h"

#include <cstdint>
#include <vector>

namespace moescope {

// A[e1 * E + e2]: valid tokens that chose both e1 and e2 (the diagonal is c[e]).
std::vector<std::int64_t> coActivation(const LayerChoices &choices);

// OLMoE's variant: only the k - 1 pairs that are neighbours in the score order of a
// token's choices (best first), counted both ways; the diagonal is c[e], so the row
// share A[e1, e2] / c[e1] reads as the all-pairs one does.
std::vector<std::int64_t> adjacentCoActivation(const LayerChoices &choices);

// M[e1 * E + e2]: tokens whose best expert is e1 at `from` and e2 at `to` (valid at both).
std::vector<std::int64_t> layerTransitions(const LayerChoices &from, const LayerChoices &to);
// Adds the transitions of positions [begin, end) to `m` (E * E): the piece a backend
// counts on each thread.
void addLayerTransitions(const LayerChoices &from, const LayerChoices &to, std::int64_t begin, std::int64_t end,
                         std::vector<std::int64_t> &m);

enum class PairKind {
    CoActivation, // A[e1, e2]: tokens that chose both (k > 1)
    Transitions,  // M[e1, e2]: best expert e1 at a layer, e2 at the next
    AdjacentCoActivation, // A[e1, e2] over neighbours in the score order only (k > 1)
};

// Both co-activation variants read as "of the tokens at e1, the share also at e2".
inline bool isCoActivation(PairKind kind)
{
    return kind == PairKind::CoActivation || kind == PairKind::AdjacentCoActivation;
}

// A pair matrix with the row shares a reader asks about ("of the tokens at e1, how
// many also chose e2?", analyses.md's co-activation share A[e1, e2] / c[e1]).
struct ExpertPairCounts {
    PairKind kind = PairKind::CoActivation;
    int numExperts = 0;
    std::vector<std::int64_t> counts; // [E * E], row e1 first
    std::vector<std::int64_t> totals; // [E] rowTotal of each row, set with the counts

    bool isEmpty() const { return counts.empty(); }
    std::int64_t count(int e1, int e2) const { return counts[std::size_t(e1) * std::size_t(numExperts) + std::size_t(e2)]; }
    // The row's reference total: c[e1] for co-activation (the diagonal), the tokens
    // whose best expert is e1 for transitions (the row sum). Kept, not summed on each
    // call: a chart asks for every cell's share, E^2 times.
    std::int64_t rowTotal(int e1) const { return totals[std::size_t(e1)]; }
    // Sets `counts` (E * E for the current kind and numExperts) and the row totals.
    void setCounts(std::vector<std::int64_t> matrix);
    // count / rowTotal; NaN for an empty row and for the co-activation diagonal (always 1).
    double share(int e1, int e2) const;
    // The share every cell would have if experts were picked independently and
    // uniformly: (k - 1) / (E - 1) for co-activation, 1 / E for transitions.
    double uniformShare(int topK) const;
};

} // namespace moescope
