#include "stats/VocabularySpecialisation.h"

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

    // One id's counts m[v, e] over n_v occurrences.
    void add(const std::vector<std::int64_t> &m, std::int64_t occurrences)
    {
        std::size_t best = 0;
        for (std::size_t e = 1; e < m.size(); ++e)
            if (m[e] > m[best]) // strictly larger: ties stay with the lower id
                best = e;
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
} // namespace

VocabularySpecialisation vocabularySpecialisation(const LayerChoices &c, const TokenPositions &positions,
                                                  std::int64_t minCount)
{
    const int E = c.numExperts, k = c.topK;
    VocabularySpecialisation r;
    r.minCount = minCount;
    Means first(E), any(E);
    std::vector<std::int64_t> m1(static_cast<std::size_t>(E)), mk(static_cast<std::size_t>(E));
    for (std::size_t i = 0; i < positions.distinctIds(); ++i) {
        std::fill(m1.begin(), m1.end(), 0);
        std::fill(mk.begin(), mk.end(), 0);
        std::int64_t occurrences = 0;
        const std::span<const std::int64_t> group = positions.group(i);
        const std::int64_t *end = positions.allPositions().data() + positions.numPositions();
        for (const std::int64_t *at = group.data(); at != group.data() + group.size(); ++at) {
            // The rows are visited in id order, not position order: fetch ahead, across
            // groups, so the memory latency overlaps (this loop is memory-bound).
            if (at + 16 < end && at[16] < c.numPositions())
                __builtin_prefetch(c.ids.data() + at[16] * k);
            const std::int64_t t = *at;
            if (t >= c.numPositions() || !c.valid[std::size_t(t)])
                continue;
            ++occurrences;
            const std::int32_t *row = c.ids.data() + t * k;
            ++m1[std::size_t(row[0])];
            for (int j = 0; j < k; ++j) {
                bool repeated = false; // a set counts a repeated id once
                for (int q = 0; q < j && !repeated; ++q)
                    repeated = row[q] == row[j];
                mk[std::size_t(row[j])] += !repeated;
            }
        }
        if (occurrences == 0 || occurrences < minCount)
            continue;
        ++r.ids;
        first.add(m1, occurrences);
        any.add(mk, occurrences);
    }
    r.top1 = first.figures();
    r.topK = any.figures();
    return r;
}

} // namespace moescope
