#include "stats/ExpertProfile.h"

#include <algorithm>
#include <unordered_map>

namespace moescope {

namespace {
void sortByCount(std::vector<TokenShare> &rows)
{
    std::sort(rows.begin(), rows.end(), [](const TokenShare &a, const TokenShare &b) {
        return a.count != b.count ? a.count > b.count : a.id < b.id;
    });
}
} // namespace

TokenShare tokenShare(std::int64_t id, std::int64_t routed, std::int64_t occurrences, std::int64_t expertTokens,
                      std::int64_t validTokens)
{
    const double n = double(routed), occ = double(occurrences);
    return {id, routed, n / occ, (n / double(expertTokens)) / (occ / double(validTokens))};
}

ExpertProfile expertProfile(const LayerChoices &c, const std::vector<std::int64_t> &tokenIds, int expert)
{
    ExpertProfile profile;
    profile.expert = expert;
    std::unordered_map<std::int64_t, std::int64_t> occurrences, routed;
    std::int64_t T = 0;
    for (std::int64_t t = 0; t < c.numPositions(); ++t) {
        if (!c.valid[t])
            continue;
        ++T;
        const std::int64_t v = tokenIds[t];
        ++occurrences[v];
        if (c.chose(t, expert)) {
            ++routed[v];
            ++profile.routed;
        }
    }
    for (const auto &[v, n] : routed)
        profile.tokens.push_back(tokenShare(v, n, occurrences[v], profile.routed, T));
    sortByCount(profile.tokens);
    return profile;
}

std::vector<TokenShare> routingOfToken(const LayerChoices &c, const std::vector<std::int64_t> &tokenIds,
                                       std::int64_t tokenId)
{
    std::vector<TokenShare> rows = std::move(routingOfTokens(c, tokenIds, {tokenId}).front());
    sortByCount(rows);
    return rows;
}

std::vector<std::vector<TokenShare>> routingOfTokens(const LayerChoices &c, const std::vector<std::int64_t> &tokenIds,
                                                     const std::vector<std::int64_t> &wanted)
{
    const std::size_t n = wanted.size(), E = std::size_t(c.numExperts), k = std::size_t(c.topK);
    std::unordered_map<std::int64_t, std::size_t> slot;
    for (std::size_t i = 0; i < n; ++i)
        slot.emplace(wanted[i], i);
    std::vector<std::int64_t> routed(n * E, 0), occurrences(n, 0);
    std::int64_t T = 0;
    for (std::int64_t t = 0; t < c.numPositions(); ++t) {
        if (!c.valid[std::size_t(t)])
            continue;
        ++T;
        const auto it = slot.find(tokenIds[std::size_t(t)]);
        if (it == slot.end())
            continue;
        ++occurrences[it->second];
        const std::int32_t *ids = c.ids.data() + std::size_t(t) * k;
        for (std::size_t j = 0; j < k; ++j)
            // A repeated id in one row counts once, as in LayerChoices::counts.
            if (std::find(ids, ids + j, ids[j]) == ids + j)
                ++routed[it->second * E + std::size_t(ids[j])];
    }
    const std::vector<std::int64_t> counts = c.counts();
    std::vector<std::vector<TokenShare>> answers(n);
    for (std::size_t i = 0; i < n; ++i)
        for (std::size_t e = 0; e < E; ++e)
            if (const std::int64_t r = routed[i * E + e]; r > 0)
                answers[i].push_back(tokenShare(std::int64_t(e), r, occurrences[i], counts[e], T));
    return answers;
}

} // namespace moescope
