#pragma once
// Experts seen together: within a token (co-activation) and from one layer to the
// next (transitions). Both E x E, row-major.
#include "stats/LayerChoices.h"

#include <cstdint>
#include <vector>

namespace moescope {

// A[e1 * E + e2]: valid tokens that chose both e1 and e2 (the diagonal is c[e]).
std::vector<std::int64_t> coActivation(const LayerChoices &choices);

// M[e1 * E + e2]: tokens whose best expert is e1 at `from` and e2 at `to` (valid at both).
std::vector<std::int64_t> layerTransitions(const LayerChoices &from, const LayerChoices &to);

} // namespace moescope
