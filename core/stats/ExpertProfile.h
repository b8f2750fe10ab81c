#pragma once
// What an expert has learned: which token ids it receives (routing.md, "Specialisation").
// The one place share and lift are computed: the profile table, the reverse search,
// the `profile` command and every export call these functions.
#include "stats/LayerChoices.h"
#include "stats/TokenPositions.h"

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

// The same answer from the positions of the wanted ids alone (`positions` indexes the
// dump's token ids), O(occurrences x k) instead of a scan over all T rows: what the
// reverse search runs at every layer. `counts` (c[e]) and `validTokens` (T) are the
// layer's own, e.g. from its report, so nothing here walks the whole layer.
std::vector<std::vector<TokenShare>> routingOfTokensAt(const LayerChoices &choices, const TokenPositions &positions,
                                                       const std::vector<std::int64_t> &wanted,
                                                       const std::vector<std::int64_t> &counts,
                                                       std::int64_t validTokens);

// What the reverse search adds up, one occurrence at a time, whichever way the rows
// arrive (a scan, a gather from memory, rows read from the dump).
class TokenRouteTally {
public:
    TokenRouteTally(int numExperts, int topK, std::size_t numWanted);
    // One occurrence of wanted[slot] with its row of k choices; an invalid token's row
    // is not looked at. A repeated id in one row counts once, as in LayerChoices::counts.
    void add(std::size_t slot, const std::int32_t *row, bool valid);
    // routingOfTokens' answer from the layer's c[e] and T.
    std::vector<std::vector<TokenShare>> answers(const std::vector<std::int64_t> &counts,
                                                 std::int64_t validTokens) const;

private:
    std::size_t m_experts, m_k;
    std::vector<std::int64_t> m_routed;      // [numWanted * E]
    std::vector<std::int64_t> m_occurrences; // [numWanted], valid ones
};

// The place that answers each wanted id: its first place, or -1 for a later repeat
// (answered at its first place only, as routingOfTokens does).
std::vector<std::ptrdiff_t> firstPlaces(const std::vector<std::int64_t> &wanted);

} // namespace moescope
