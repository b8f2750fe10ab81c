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

TokenRouteTally::TokenRouteTally(int numExperts, int topK, std::size_t numWanted)
    : m_experts(std::size_t(std::max(0, numExperts))),
      m_k(std::size_t(std::max(0, topK))),
      m_routed(numWanted * m_experts, 0),
      m_occurrences(numWanted, 0)
{
}

void TokenRouteTally::add(std::size_t slot, const std::int32_t *row, bool valid)
{
    if (!valid)
        return;
    ++m_occurrences[slot];
    std::int64_t *routed = m_routed.data() + slot * m_experts;
    for (std::size_t j = 0; j < m_k; ++j)
        if (std::find(row, row + j, row[j]) == row + j)
            ++routed[std::size_t(row[j])];
}

std::vector<std::vector<TokenShare>> TokenRouteTally::answers(const std::vector<std::int64_t> &counts,
                                                              std::int64_t validTokens) const
{
    const std::size_t n = m_occurrences.size(), E = m_experts;
    std::vector<std::vector<TokenShare>> answers(n);
    for (std::size_t i = 0; i < n; ++i)
        for (std::size_t e = 0; e < E; ++e)
            if (const std::int64_t r = m_routed[i * E + e]; r > 0)
                answers[i].push_back(tokenShare(std::int64_t(e), r, m_occurrences[i], counts[e], validTokens));
    return answers;
}

std::vector<std::ptrdiff_t> firstPlaces(const std::vector<std::int64_t> &wanted)
{
    std::unordered_map<std::int64_t, std::size_t> first;
    std::vector<std::ptrdiff_t> places(wanted.size(), -1);
    for (std::size_t i = 0; i < wanted.size(); ++i)
        if (first.emplace(wanted[i], i).second)
            places[i] = std::ptrdiff_t(i);
    return places;
}

std::vector<std::vector<TokenShare>> routingOfTokens(const LayerChoices &c, const std::vector<std::int64_t> &tokenIds,
                                                     const std::vector<std::int64_t> &wanted)
{
    std::unordered_map<std::int64_t, std::size_t> slot;
    for (std::size_t i = 0; i < wanted.size(); ++i)
        slot.emplace(wanted[i], i);
    TokenRouteTally tally(c.numExperts, c.topK, wanted.size());
    const std::size_t k = std::size_t(c.topK);
    std::int64_t T = 0;
    for (std::int64_t t = 0; t < c.numPositions(); ++t) {
        if (!c.valid[std::size_t(t)])
            continue;
        ++T;
        const auto it = slot.find(tokenIds[std::size_t(t)]);
        if (it != slot.end())
            tally.add(it->second, c.ids.data() + std::size_t(t) * k, true);
    }
    return tally.answers(c.counts(), T);
}

std::vector<std::vector<TokenShare>> routingOfTokensAt(const LayerChoices &c, const TokenPositions &positions,
                                                       const std::vector<std::int64_t> &wanted,
                                                       const std::vector<std::int64_t> &counts,
                                                       std::int64_t validTokens)
{
    TokenRouteTally tally(c.numExperts, c.topK, wanted.size());
    const std::vector<std::ptrdiff_t> places = firstPlaces(wanted);
    const std::size_t k = std::size_t(c.topK);
    for (std::size_t i = 0; i < wanted.size(); ++i) {
        if (places[i] < 0)
            continue;
        for (const std::int64_t t : positions.of(wanted[i]))
            if (t < c.numPositions()) // a layer of no choices (load-only) holds no rows
                tally.add(i, c.ids.data() + std::size_t(t) * k, c.valid[std::size_t(t)] != 0);
    }
    return tally.answers(counts, validTokens);
}

} // namespace moescope
