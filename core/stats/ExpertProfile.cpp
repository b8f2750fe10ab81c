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
    for (const auto &[v, n] : routed) {
        const double occ = double(occurrences[v]);
        profile.tokens.push_back({v, n, double(n) / occ,
                                  (double(n) / double(profile.routed)) / (occ / double(T))});
    }
    sortByCount(profile.tokens);
    return profile;
}

std::vector<TokenShare> routingOfToken(const LayerChoices &c, const std::vector<std::int64_t> &tokenIds,
                                       std::int64_t tokenId)
{
    const auto counts = c.counts();
    std::vector<std::int64_t> routed(c.numExperts, 0);
    std::int64_t occurrences = 0, T = 0;
    for (std::int64_t t = 0; t < c.numPositions(); ++t) {
        if (!c.valid[t])
            continue;
        ++T;
        if (tokenIds[t] != tokenId)
            continue;
        ++occurrences;
        for (int e = 0; e < c.numExperts; ++e)
            routed[e] += c.chose(t, e);
    }
    std::vector<TokenShare> rows;
    for (int e = 0; e < c.numExperts; ++e) {
        if (routed[e] == 0)
            continue;
        const double n = double(routed[e]);
        rows.push_back({e, routed[e], n / double(occurrences),
                        (n / double(counts[e])) / (double(occurrences) / double(T))});
    }
    sortByCount(rows);
    return rows;
}

} // namespace moescope
