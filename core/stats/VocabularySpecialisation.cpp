#include "stats/VocabularySpecialisation.h"

#include <algorithm>
#include <limits>
#include <span>

namespace moescope {

namespace {
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

struct Means {
    double sum = 0;
    std::int64_t n = 0;
    std::vector<double> expertSum;
    std::vector<std::int64_t> expertN;
    explicit Means(int E) : expertSum(static_cast<std::size_t>(E), 0.0), expertN(static_cast<std::size_t>(E), 0) {}

    // One id's counts m[v, e] over n_v occurrences; only the experts in `touched` can
    // be non-zero (with E = 256 and a large vocabulary, scanning all E per id was most
    // of `stats`).
    void add(const std::vector<std::int64_t> &m, const std::vector<int> &touched, std::int64_t occurrences)
    {
        std::size_t best = std::size_t(touched.front());
        for (int t : touched) {
            const auto e = std::size_t(t);
            if (m[e] > m[best] || (m[e] == m[best] && e < best)) // ties go to the lower id
                best = e;
        }
        const double s = double(m[best]) / double(occurrences);
        sum += s;
        ++n;
        expertSum[best] += s;
        ++expertN[best];
    }

    SpecialisationFigures figures() const
    {
        SpecialisationFigures f;
        f.layer = n ? sum / double(n) : kNaN;
        f.perExpert.resize(expertSum.size());
        for (std::size_t e = 0; e < expertSum.size(); ++e)
            f.perExpert[e] = expertN[e] ? expertSum[e] / double(expertN[e]) : kNaN;
        f.expertIds = expertN;
        return f;
    }
};

// The loop over ids, on the layer's rows narrowed to `Id` (8 or 16 bits). The rows
// are visited in id order, not position order: random reads, bound by memory latency.
// Narrow rows make the table 4x (2x) smaller, so most of it stays in cache and the
// reads miss the TLB far less: five times faster on 256 experts than reading the
// int32 ids where they lie.
template <typename Id>
void countIds(const LayerChoices &c, const std::vector<Id> &rows, const TokenPositions &positions,
              std::int64_t minCount, VocabularySpecialisation &r, Means &first, Means &any)
{
    const int E = c.numExperts, k = c.topK;
    std::vector<std::int64_t> m1(static_cast<std::size_t>(E)), mk(static_cast<std::size_t>(E));
    std::vector<int> touched1, touchedK; // the experts with m > 0, to reset and to scan
    std::vector<std::int64_t> lastRow(static_cast<std::size_t>(E), -1); // the last row that counted e
    const std::int64_t T = c.numPositions();
    const std::int64_t *end = positions.allPositions().data() + positions.numPositions();
    for (std::size_t i = 0; i < positions.distinctIds(); ++i) {
        const std::span<const std::int64_t> group = positions.group(i);
        if (std::int64_t(group.size()) < std::max<std::int64_t>(1, minCount))
            continue; // n_v <= the id's positions: too rare to count
        for (int e : touched1)
            m1[std::size_t(e)] = 0;
        for (int e : touchedK)
            mk[std::size_t(e)] = 0;
        touched1.clear();
        touchedK.clear();
        std::int64_t occurrences = 0;
        for (const std::int64_t *at = group.data(); at != group.data() + group.size(); ++at) {
            // Fetch ahead, across groups, so the misses overlap.
            if (at + 32 < end && at[32] < T) {
                __builtin_prefetch(rows.data() + at[32] * k);
                __builtin_prefetch(c.valid.data() + at[32]);
            }
            const std::int64_t t = *at;
            if (t >= T || !c.valid[std::size_t(t)])
                continue;
            ++occurrences;
            const Id *row = rows.data() + t * k;
            if (m1[std::size_t(row[0])]++ == 0)
                touched1.push_back(row[0]);
            for (int j = 0; j < k; ++j) {
                const auto e = std::size_t(row[j]);
                if (lastRow[e] == t) // a set counts a repeated id once
                    continue;
                lastRow[e] = t;
                if (mk[e]++ == 0)
                    touchedK.push_back(int(e));
            }
        }
        if (occurrences == 0 || occurrences < minCount)
            continue;
        ++r.ids;
        first.add(m1, touched1, occurrences);
        any.add(mk, touchedK, occurrences);
    }
}

// The layer's ids narrowed to Id, in position order (a sequential pass).
template <typename Id>
std::vector<Id> narrowRows(const LayerChoices &c)
{
    std::vector<Id> rows(c.ids.size());
    const std::int32_t *ids = c.ids.data();
    for (std::size_t i = 0; i < rows.size(); ++i)
        rows[i] = Id(ids[i]);
    return rows;
}

} // namespace

VocabularySpecialisation vocabularySpecialisation(const LayerChoices &c, const TokenPositions &positions,
                                                  std::int64_t minCount)
{
    const int E = c.numExperts;
    VocabularySpecialisation r;
    r.minCount = minCount;
    Means first(E), any(E);
    if (E <= 256)
        countIds(c, narrowRows<std::uint8_t>(c), positions, minCount, r, first, any);
    else if (E <= 65536)
        countIds(c, narrowRows<std::uint16_t>(c), positions, minCount, r, first, any);
    else
        countIds(c, narrowRows<std::int32_t>(c), positions, minCount, r, first, any);
    r.top1 = first.figures();
    r.topK = any.figures();
    return r;
}

} // namespace moescope
