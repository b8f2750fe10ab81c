#include "stats/VocabularySpecialisation.h"

#include "common/ReusedBuffer.h"
#include "stats/BitPlaneCounts.h"
#include "stats/CompactChoices.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <span>

#if defined(__x86_64__) || defined(__i386__)
#include "common/CpuFeatures.h"
#define MOESCOPE_VOCABULARY_AVX2 1
#endif

namespace moescope {

namespace {
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

struct Means {
    double sum = 0;
    std::int64_t n = 0;
    std::vector<double> expertSum;
    std::vector<std::int64_t> expertN;
    explicit Means(int E) : expertSum(static_cast<std::size_t>(E), 0.0), expertN(static_cast<std::size_t>(E), 0) {}

    // One id: its best expert and that expert's share of the id's tokens.
    void add(std::size_t best, double share)
    {
        sum += share;
        ++n;
        expertSum[best] += share;
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

// One id's tokens, counted: m1[e] (first choice) and mk[e] (any choice, a repeated id
// once) over the rows of its valid positions, then added to the means. The loops have
// no data-dependent branches: the best expert comes from a second pass over the same
// rows (which name every expert with m > 0) and a third resets the counts, rather than
// lists of touched experts whose "first time?" tests the processor cannot predict.
template <typename Id, int K> // K > 0: k known when compiled
class IdCounter {
public:
    IdCounter(int E, int k) : m_k(std::size_t(k)), m1(std::size_t(E)), mk(std::size_t(E)), m_stamp(std::size_t(E), -1) {}

    // rows[j * k ...] for j < n, each with ok[j] (a valid position); one id's tokens.
    void count(const Id *rows, const std::uint8_t *ok, std::size_t n, std::int64_t minCount,
               VocabularySpecialisation &r, Means &first, Means &any)
    {
        const std::size_t k = K > 0 ? std::size_t(K) : m_k;
        std::int64_t occurrences = 0;
        for (std::size_t j = 0; j < n; ++j) {
            if (!ok[j])
                continue;
            ++occurrences;
            ++m_row; // a new stamp for each token's set
            const Id *row = rows + j * k;
            ++m1[std::size_t(row[0])];
            for (std::size_t i = 0; i < k; ++i) {
                const auto e = std::size_t(row[i]);
                mk[e] += m_stamp[e] != m_row; // a set counts a repeated id once
                m_stamp[e] = m_row;
            }
        }
        // An id with more choices than experts (the frequent ones, which hold most
        // tokens) is picked and reset over the E counts, not over its rows again.
        const bool overExperts = n * k > m1.size();
        if (occurrences > 0 && occurrences >= minCount) {
            std::size_t best1 = 0, bestK = 0;
            std::int64_t most1 = 0, mostK = 0;
            if (overExperts) {
                for (std::size_t e = 0; e < m1.size(); ++e) { // ascending: a tie keeps the lower id
                    pick(m1, e, best1, most1);
                    pick(mk, e, bestK, mostK);
                }
            } else {
                for (std::size_t j = 0; j < n; ++j) {
                    if (!ok[j])
                        continue;
                    const Id *row = rows + j * k;
                    pick(m1, std::size_t(row[0]), best1, most1);
                    for (std::size_t i = 0; i < k; ++i)
                        pick(mk, std::size_t(row[i]), bestK, mostK);
                }
            }
            ++r.ids;
            first.add(best1, double(most1) / double(occurrences));
            any.add(bestK, double(mostK) / double(occurrences));
        }
        if (overExperts) {
            std::fill(m1.begin(), m1.end(), 0);
            std::fill(mk.begin(), mk.end(), 0);
            return;
        }
        for (std::size_t j = 0; j < n; ++j) {
            const Id *row = rows + j * k;
            m1[std::size_t(row[0])] = 0;
            for (std::size_t i = 0; i < k; ++i)
                mk[std::size_t(row[i])] = 0;
        }
    }

private:
    // The largest count so far, ties to the lower expert id.
    static void pick(const std::vector<std::int64_t> &m, std::size_t e, std::size_t &best, std::int64_t &most)
    {
        const bool better = m[e] > most || (m[e] == most && e < best);
        best = better ? e : best;
        most = better ? m[e] : most;
    }

    std::size_t m_k;
    std::vector<std::int64_t> m1, mk;
    std::vector<std::int64_t> m_stamp; // the stamp of the last token that counted e
    std::int64_t m_row = 0;
};

// Adds the valid rows among rows[j * k ...], j < n, to `first` (their first choices)
// and `any` (their sets); returns how many were valid. The four low planes of each
// stay in registers for the whole group.
template <int K> // K > 0: k known when compiled
[[gnu::always_inline]] inline std::int64_t addRows(const std::uint8_t *rows, const std::uint8_t *ok, std::size_t n,
                                                  std::size_t k, bitplanes::Counts &first, bitplanes::Counts &any)
{
    using bitplanes::Lanes;
    const Lanes *oneHot = bitplanes::oneHot().of;
    const std::size_t kk = K > 0 ? std::size_t(K) : k;
    Lanes f0 = first.low[0], f1 = first.low[1], f2 = first.low[2], f3 = first.low[3];
    Lanes a0 = any.low[0], a1 = any.low[1], a2 = any.low[2], a3 = any.low[3];
    std::int64_t valid = 0;
    for (std::size_t j = 0; j < n; ++j) {
        if (!ok[j])
            continue;
        ++valid;
        const std::uint8_t *row = rows + j * kk;
        const Lanes top = oneHot[row[0]];
        Lanes set = top;
        for (std::size_t i = 1; i < kk; ++i)
            set |= oneHot[row[i]];
        first.add(top, f0, f1, f2, f3);
        any.add(set, a0, a1, a2, a3);
    }
    first.low[0] = f0, first.low[1] = f1, first.low[2] = f2, first.low[3] = f3;
    any.low[0] = a0, any.low[1] = a1, any.low[2] = a2, any.low[3] = a3;
    return valid;
}

using AddRows = std::int64_t (*)(const std::uint8_t *, const std::uint8_t *, std::size_t, std::size_t,
                                 bitplanes::Counts &, bitplanes::Counts &);

template <int K>
std::int64_t addRowsPlain(const std::uint8_t *rows, const std::uint8_t *ok, std::size_t n, std::size_t k,
                          bitplanes::Counts &first, bitplanes::Counts &any)
{
    return addRows<K>(rows, ok, n, k, first, any);
}

#ifdef MOESCOPE_VOCABULARY_AVX2
template <int K>
__attribute__((target("avx2"))) std::int64_t addRowsAvx2(const std::uint8_t *rows, const std::uint8_t *ok,
                                                         std::size_t n, std::size_t k, bitplanes::Counts &first,
                                                         bitplanes::Counts &any)
{
    return addRows<K>(rows, ok, n, k, first, any);
}
#endif

template <int K>
AddRows addRowsFor()
{
#ifdef MOESCOPE_VOCABULARY_AVX2
    if (cpuHasAvx2())
        return addRowsAvx2<K>;
#endif
    return addRowsPlain<K>;
}

// IdCounter's job for E <= 256 (8-bit rows), on bit-plane counts (BitPlaneCounts.h):
// no stamps for repeated ids, no second pass over the rows to pick the best expert,
// no third to reset. Over half the time of the layer's vocabulary figure went there.
template <typename Id, int K> // as IdCounter's; Id is 8 bits, k is looked at when made
class LaneCounter {
    static_assert(sizeof(Id) == 1);

public:
    LaneCounter(int, int k) : m_k(std::size_t(k)), m_add(k == 8 ? addRowsFor<8>() : addRowsFor<0>()) {}

    void count(const std::uint8_t *rows, const std::uint8_t *ok, std::size_t n, std::int64_t minCount,
               VocabularySpecialisation &r, Means &first, Means &any)
    {
        const std::int64_t occurrences = m_add(rows, ok, n, m_k, m_first, m_any);
        if (occurrences > 0 && occurrences >= minCount) {
            std::size_t best1 = 0, bestK = 0;
            std::int64_t most1 = 0, mostK = 0;
            m_first.most(best1, most1);
            m_any.most(bestK, mostK);
            ++r.ids;
            first.add(best1, double(most1) / double(occurrences));
            any.add(bestK, double(mostK) / double(occurrences));
        }
        m_first.reset();
        m_any.reset();
    }

private:
    std::size_t m_k;
    AddRows m_add;
    bitplanes::Counts m_first, m_any;
};

// The layer's ids narrowed to Id, in position order (a sequential pass): the rows the
// gather below reads are then 4x (2x) smaller, so most of them stay in cache. Into a
// ReusedBuffer, not zeroed first (every element is written): a fresh array for every
// layer was faulted in page by page.
template <typename Id>
const Id *narrowRows(const LayerChoices &c, ReusedBuffer &buffer)
{
    Id *rows = static_cast<Id *>(buffer.reserve(c.ids.size() * sizeof(Id)));
    narrowIds(c.ids.data(), c.ids.size(), rows);
    return rows;
}

// Copies token t's row to `to` (K > 0: k known when compiled, one plain copy).
template <typename Id, int K>
inline void copyRow(const Id *rows, std::size_t k, std::int64_t t, Id *to)
{
    if constexpr (K > 0)
        std::memcpy(to, rows + std::size_t(t) * K, K * sizeof(Id));
    else
        std::copy_n(rows + std::size_t(t) * k, k, to);
}

// The loop over ids, on the layer's rows narrowed to `Id` (8 or 16 bits). The tokens
// are wanted in id order, not position order. Rather than visit each row where it
// lies, in a chain of dependent cache misses per token, the rows of a batch of ids are
// first gathered (narrowed) into one small block, loads the processor overlaps, then
// counted in a sequential pass over the block.
template <typename Id, int K, template <typename, int> class Counter>
void countIds(const LayerChoices &c, const TokenPositions &positions, std::int64_t minCount,
              VocabularySpecialisation &r, Means &first, Means &any)
{
    constexpr std::size_t kBatch = 1 << 14; // tokens gathered at a time (128 KB of 8-bit rows at k = 8)
    const std::size_t k = std::size_t(c.topK);
    const std::int64_t T = c.numPositions();
    ReusedBuffer narrowed;
    const Id *rows = narrowRows<Id>(c, narrowed);
    Counter<Id, K> counter(c.numExperts, c.topK);
    std::vector<Id> block;
    std::vector<std::uint8_t> ok;
    std::vector<std::size_t> batch; // the ids (group indices) in the block
    const std::size_t groups = positions.distinctIds();
    std::size_t next = 0;
    while (next < groups) {
        // Whole groups until the block holds kBatch tokens (a larger group alone).
        batch.clear();
        std::size_t n = 0;
        for (; next < groups && (n == 0 || n + positions.group(next).size() <= kBatch); ++next) {
            const std::size_t size = positions.group(next).size();
            if (std::int64_t(size) < std::max<std::int64_t>(1, minCount))
                continue; // n_v <= the id's positions: too rare to count
            batch.push_back(next);
            n += size;
        }
        block.resize(n * k);
        ok.resize(n);
        // The rows are fetched a few positions ahead: each is a cache miss of its own.
        constexpr std::size_t kAhead = 16;
        const std::span<const std::int64_t> all = positions.allPositions();
        const std::uint8_t *validOf = c.valid.data();
        std::size_t j = 0;
        for (std::size_t g : batch)
            for (const std::int64_t t : positions.group(g)) {
                const std::size_t at = std::size_t(&t - all.data()) + kAhead;
                if (at < all.size() && all[at] >= 0 && all[at] < T)
                    __builtin_prefetch(rows + std::size_t(all[at]) * k);
                const bool valid = t >= 0 && t < T && validOf[std::size_t(t)];
                ok[j] = valid;
                if (valid)
                    copyRow<Id, K>(rows, k, t, block.data() + j * k);
                else
                    std::fill_n(block.data() + j * k, k, Id(0)); // reset below like any row
                ++j;
            }
        j = 0;
        for (std::size_t g : batch) {
            const std::size_t size = positions.group(g).size();
            counter.count(block.data() + j * k, ok.data() + j, size, minCount, r, first, any);
            j += size;
        }
    }
}

template <typename Id, template <typename, int> class Counter>
void countIdsOf(const LayerChoices &c, const TokenPositions &positions, std::int64_t minCount,
                VocabularySpecialisation &r, Means &first, Means &any)
{
    if (c.topK == 8)
        countIds<Id, 8, Counter>(c, positions, minCount, r, first, any);
    else
        countIds<Id, 0, Counter>(c, positions, minCount, r, first, any);
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
        countIdsOf<std::uint8_t, LaneCounter>(c, positions, minCount, r, first, any);
    else if (E <= 65536)
        countIdsOf<std::uint16_t, IdCounter>(c, positions, minCount, r, first, any);
    else
        countIdsOf<std::int32_t, IdCounter>(c, positions, minCount, r, first, any);
    r.top1 = first.figures();
    r.topK = any.figures();
    return r;
}

} // namespace moescope
