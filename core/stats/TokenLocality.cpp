#include "stats/TokenLocality.h"

#include <algorithm>
#include <limits>

namespace moescope {

namespace {
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

double share(std::int64_t part, std::int64_t whole)
{
    return whole ? double(part) / double(whole) : kNaN;
}
} // namespace

bool expertSetsMeet(const std::int32_t *a, const std::int32_t *b, int k)
{
    for (int i = 0; i < k; ++i)
        if (std::find(b, b + k, a[i]) != b + k)
            return true;
    return false;
}

double uniformAnyChoiceChance(int numExperts, int topK)
{
    // C(E - k, k) / C(E, k) = prod_{i < k} (E - k - i) / (E - i); zero once E - k < k.
    double miss = 1;
    for (int i = 0; i < topK; ++i)
        miss *= std::max(0, numExperts - topK - i) / double(numExperts - i);
    return 1 - miss;
}

TokenLocality tokenLocality(const LayerChoices &c, const std::vector<std::int64_t> &offsets)
{
    const int k = c.topK, E = c.numExperts;
    const std::int64_t T = c.numPositions();
    TokenLocality r;
    r.hasAny = k >= 2;
    r.firstUniform = E > 0 ? 1.0 / E : kNaN;
    r.anyUniform = r.hasAny ? uniformAnyChoiceChance(E, k) : kNaN;

    // With E <= 64 each token's set is one 64-bit mask and "the sets meet" one AND.
    std::vector<std::uint64_t> masks;
    if (r.hasAny && E <= 64) {
        masks.assign(std::size_t(T), 0);
        for (std::int64_t t = 0; t < T; ++t)
            for (int i = 0; i < k; ++i)
                masks[std::size_t(t)] |= std::uint64_t(1) << c.ids[std::size_t(t * k + i)];
    }
    // Above 64 experts: mark a's experts with a's position, then look up b's (2k steps
    // rather than k^2 compares; a mark equal to a always means "in a's set").
    std::vector<std::int64_t> markOf(masks.empty() && r.hasAny ? std::size_t(E) : 0, -1);
    auto meets = [&](std::int64_t a, std::int64_t b) {
        if (!masks.empty())
            return (masks[std::size_t(a)] & masks[std::size_t(b)]) != 0;
        const std::int32_t *ra = c.ids.data() + a * k, *rb = c.ids.data() + b * k;
        std::int64_t *mark = markOf.data();
        for (int i = 0; i < k; ++i)
            mark[ra[i]] = a;
        bool met = false;
        for (int i = 0; i < k; ++i)
            met |= mark[rb[i]] == a;
        return met;
    };

    // Consecutive pairs never cross a sequence boundary.
    std::vector<std::uint8_t> starts(std::size_t(T) + 1, 0);
    for (std::int64_t o : offsets)
        if (o >= 0 && o <= T)
            starts[std::size_t(o)] = 1;
    std::int64_t sameFirst = 0, meet = 0;
    for (std::int64_t t = 0; t + 1 < T; ++t) {
        if (starts[std::size_t(t + 1)] || !c.valid[t] || !c.valid[t + 1])
            continue;
        const std::int32_t *a = c.ids.data() + t * k, *b = a + k;
        ++r.pairs;
        sameFirst += a[0] == b[0];
        if (r.hasAny)
            meet += meets(t, t + 1);
    }
    r.first = share(sameFirst, r.pairs);
    r.any = r.hasAny ? share(meet, r.pairs) : kNaN;

    // Load-aware chance: unrelated tokens with this layer's loads.
    std::vector<std::int64_t> firstCounts(std::size_t(E), 0);
    std::int64_t validTokens = 0;
    for (std::int64_t t = 0; t < T; ++t)
        if (c.valid[t]) {
            ++validTokens;
            ++firstCounts[std::size_t(c.ids[std::size_t(t * k)])];
        }
    double sum = 0;
    for (std::int64_t n : firstCounts)
        sum += (double(n) / double(validTokens)) * (double(n) / double(validTokens));
    r.firstLoadAware = validTokens ? sum : kNaN;
    if (r.hasAny) {
        // Pairs (t, (t + floor(T/2)) mod T) over the dump's positions, both valid.
        std::int64_t far = 0;
        const std::int64_t half = T / 2;
        for (std::int64_t t = 0; t < T && half > 0; ++t) {
            const std::int64_t u = (t + half) % T;
            if (!c.valid[t] || !c.valid[u])
                continue;
            ++r.loadAwarePairs;
            far += meets(t, u);
        }
        r.anyLoadAware = share(far, r.loadAwarePairs);
    } else {
        r.anyLoadAware = kNaN;
    }
    return r;
}

} // namespace moescope
