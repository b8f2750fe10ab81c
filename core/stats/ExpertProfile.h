#pragma once
// What an expert has learned: which token ids it receives (routing.md, "Specialisation").
#include "stats/LayerChoices.h"

#include <cstdint>
#include <vector>

namespace moescope {

struct TokenShare {
    std::int64_t id = 0;
    std::int64_t count = 0;   // n[v, e]: occurrences of v routed to e
    double share = 0;         // n[v, e] / occurrences of v
    double lift = 0;          // (n[v, e] / c[e]) / (occurrences of v / T)
};

struct ExpertProfile {
    int expert = 0;
    std::int64_t routed = 0;          // c[e]
    std::vector<TokenShare> tokens;   // by count descending, then id ascending
};

// tokenIds: [T] the dump's token ids. Only valid tokens count (T = valid tokens).
ExpertProfile expertProfile(const LayerChoices &choices, const std::vector<std::int64_t> &tokenIds, int expert);

// The reverse question: where does token id v go? One entry per expert that
// receives it (count > 0), by count descending.
std::vector<TokenShare> routingOfToken(const LayerChoices &choices, const std::vector<std::int64_t> &tokenIds,
                                       std::int64_t tokenId);

} // namespace moescope
