#pragma once
// Domain specialisation: the utilization share u[e] over the tokens of each
// sequence label (routing.md), to compare with the share over all tokens.
#include "stats/LayerChoices.h"

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace moescope {

// labels: [S] one per sequence; offsets: [S+1]. Sequences sharing a label pool their
// tokens. A label with no valid token gets all-zero shares.
std::map<std::string, std::vector<double>> labelShares(const LayerChoices &choices,
                                                       const std::vector<std::int64_t> &offsets,
                                                       const std::vector<std::string> &labels);

// The domain specialisation view (analyses.md, OLMoE): of the label's tokens, the
// share that has e among its choices, k * u_g[e], beside the uniform line k / E.
std::map<std::string, std::vector<double>> domainSpecialisation(
    const std::map<std::string, std::vector<double>> &labelShares, int topK);

} // namespace moescope
