#pragma once
// What an expert has learned: which token ids it receives (routing.md, "Specialisation").
// The one place share and lift are computed: the profile table, the reverse search,
// the `profile` command and every export call these functions.
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

// One cell of the profile from its counts: `routed` = n[v, e], `occurrences` = valid
// occurrences of v, `expertTokens` = c[e], `validTokens` = T. `id` is stored as given
// (the token id in a profile, the expert in routingOfToken).
TokenShare tokenShare(std::int64_t id, std::int64_t routed, std::int64_t occurrences, std::int64_t expertTokens,
                      std::int64_t validTokens);

// tokenIds: [T] the dump's token ids. Only valid tokens count (T = valid tokens).
ExpertProfile expertProfile(const LayerChoices &choices, const std::vector<std::int64_t> &tokenIds, int expert);

// The reverse question: where does token id v go? One entry per expert that
// receives it (count > 0), by count descending.
std::vector<TokenShare> routingOfToken(const LayerChoices &choices, const std::vector<std::int64_t> &tokenIds,
                                       std::int64_t tokenId);

// The same for several ids in one scan of the layer: result[i] answers wanted[i], one
// entry per expert that receives it, experts ascending. An id given twice is answered
// at its first place only (the later places stay empty).
std::vector<std::vector<TokenShare>> routingOfTokens(const LayerChoices &choices,
                                                     const std::vector<std::int64_t> &tokenIds,
                                                     const std::vector<std::int64_t> &wanted);

} // namespace moescope
