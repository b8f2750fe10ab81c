#pragma once
// Token locality (Mixtral of Experts, section 5): how often consecutive tokens of a
// sequence go to the same expert, beside what chance gives (analyses.md). Plain
// computation over one layer's choices, no I/O.
#include "stats/LayerChoices.h"

#include <cstdint>
#include <vector>

namespace moescope {

struct TokenLocality {
    std::int64_t pairs = 0;        // N: consecutive pairs inside a sequence, both valid
    double first = 0;              // share of pairs with the same best expert
    double firstUniform = 0;       // 1 / E
    double firstLoadAware = 0;     // sum_e (c1[e] / T)^2, c1 the best-expert counts
    bool hasAny = false;           // k >= 2: the any-choice figures below are set
    double any = 0;                // share of pairs whose expert sets meet
    double anyUniform = 0;         // 1 - C(E - k, k) / C(E, k)
    double anyLoadAware = 0;       // the any-choice share over pairs half a dump apart
    std::int64_t loadAwarePairs = 0;
};

// offsets: [S + 1] sequence starts (empty: one sequence). Shares over no pair are NaN.
TokenLocality tokenLocality(const LayerChoices &choices, const std::vector<std::int64_t> &offsets);

// 1 - C(E - k, k) / C(E, k): the chance that two uniformly drawn k-sets of E meet.
double uniformAnyChoiceChance(int numExperts, int topK);

// Whether the expert sets of two rows of k ids meet.
bool expertSetsMeet(const std::int32_t *a, const std::int32_t *b, int k);

} // namespace moescope
