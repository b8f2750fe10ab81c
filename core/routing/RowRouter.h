#pragma once
// The routing rules applied to one token: the plain scalar definition of
// docs/routing.md that every backend must agree with. Templated on the
// logits' precision so float64 dumps are routed in double.
#include "routing/RoutingRules.h"

#include <cstdint>
#include <vector>

namespace moescope {

// Reusable per-thread buffers, so routing a row allocates nothing.
struct RowScratch {
    std::vector<double> probs, keys, groupScores, chosen;
    std::vector<std::int32_t> chosenGroups;
    std::vector<std::uint8_t> groupKept;
};

// What routing one row yields; any pointer may be null when not wanted.
struct RowOutput {
    std::int32_t *ids = nullptr;   // [k] chosen experts, best first
    float *weights = nullptr;      // [k] gate weights
    float *gateProbs = nullptr;    // [k] p[t, e] of each chosen expert (score-priority order)
};

// Routes one row of E logits. Returns false, writing nothing, when the row holds
// NaN or infinity (an invalid token).
template <typename Real>
bool routeRow(const Real *logits, int numExperts, const RoutingRules &rules, RowOutput out,
              RowScratch &scratch);

// routeRow once the row's scores p[E] are known (rowScores of the same row, for a
// row known to be finite): for callers that have them cheaper.
template <typename Real>
void chooseRow(const Real *logits, const double *p, int numExperts, const RoutingRules &rules, RowOutput out,
               RowScratch &scratch);

// The scores p of the chosen experts ids[0..k) of a finite row: rowScores' numbers
// (the same operations in the same order), without scoring every expert.
template <typename Real>
void chosenScores(const Real *logits, int numExperts, const RoutingRules &rules, const std::int32_t *ids, int k,
                  double *p);

// A row's gate outputs from the scores p[0..k) of its choices, best first: the
// probabilities, and the weights (normalised when the rules say so, then scaled).
// out.ids is not used.
void gateOutputs(const double *p, int k, const RoutingRules &rules, RowOutput out);

// The sigmoid score of every float16 value, indexed by its bits, computed exactly as
// rowScores computes it (so the same bits): rows from float16 dumps look their
// scores up instead of calling exp.
const double *sigmoidOfHalves();

// The softmax probabilities of one valid row, added to probSum[E], and the square of
// its logsumexp added to zSquaredSum: the terms of the load-balancing and z-losses.
// With probabilities as input, the row itself is added and no z term (unknowable).
template <typename Real>
void addLossTerms(const Real *logits, int numExperts, bool inputsAreProbabilities,
                  double *probSum, double &zSquaredSum);

template <typename Real>
bool rowIsFinite(const Real *logits, int numExperts);

// The scores p[e] of one row by the rules' scoring (softmax computed stably, in
// double). Returns false, writing nothing, for a row with NaN or infinity.
template <typename Real>
bool rowScores(const Real *logits, int numExperts, const RoutingRules &rules, double *p);

} // namespace moescope
