#include "stats/CapacityDrops.h"

#include "common/ReusedBuffer.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <stdexcept>

#if defined(__x86_64__) || defined(__i386__)
#include "common/CpuFeatures.h"

#include <immintrin.h>
#define MOESCOPE_DROPS_AVX2 1
#endif

namespace moescope {

const char *dropPolicyName(DropPolicy p)
{
    switch (p) {
    case DropPolicy::TokenOrder: return "token-order";
    case DropPolicy::ScorePriority: return "score-priority";
    case DropPolicy::None: return "none";
    }
    return "";
}

std::int64_t expertCapacity(double capacityFactor, int topK, std::int64_t groupTokens, int numExperts)
{
    // Same order of operations as the formula reads, so the rounding matches.
    return std::int64_t(std::ceil(capacityFactor * topK * double(groupTokens) / numExperts));
}

namespace {

// Admits the assignments of one group in the given order; counts the drops per token.
void admit(const LayerChoices &c, const std::vector<Assignment> &order, std::int64_t capacity,
           std::vector<std::int64_t> &fill, std::uint16_t *dropsOfToken, DropReport &r)
{
    std::fill(fill.begin(), fill.end(), 0);
    for (const Assignment &a : order) {
        const int e = c.ids[a.token * c.topK + a.slot];
        if (fill[e] < capacity) {
            ++fill[e];
        } else {
            ++dropsOfToken[a.token];
            ++r.droppedPerExpert[e];
            ++r.dropped;
        }
    }
}

// The second pass of admitInTokenOrder: drops per token. room[s * E + e] starts as how
// many slot-s assignments to e are admitted; each one takes one and is dropped once none
// is left. No branch on how an expert fares: the processor cannot predict it for the
// experts that fill up part-way through a slot, and their share is large in a layer
// that drops much.
template <int K>
void lostInTokenOrder(const std::int32_t *ids, const std::uint8_t *valid, std::int64_t begin, std::int64_t end,
                      std::size_t k, std::size_t E, std::int64_t *room, std::uint16_t *lost)
{
    const std::size_t kk = K > 0 ? std::size_t(K) : k;
    for (std::int64_t t = begin; t < end; ++t) {
        if (!valid[t])
            continue;
        const std::int32_t *row = ids + std::size_t(t) * kk;
        int lostHere = 0;
        for (std::size_t s = 0; s < kk; ++s) {
            std::int64_t &left = room[s * E + std::size_t(row[s])];
            lostHere += left <= 0;
            --left;
        }
        lost[t] = std::uint16_t(lost[t] + lostHere);
    }
}

// Adds the valid tokens' assignments in [begin, end) per (slot, expert) to
// count[s * E + e]; with `repeats`, also a row's second, third, ... naming of an expert
// to repeats[e] (the expert counts c[e] are then the slot counts less those). Neighbouring
// tokens often pick the same expert in a slot, and increments of one counter wait on
// each other through memory: four tables (token t adds to table t % 4) let four of them
// run at once.
template <int K, typename Repeated, bool WithRepeats>
[[gnu::always_inline]] inline void countSlotsWith(const std::int32_t *ids, const std::uint8_t *valid,
                                                  std::int64_t begin, std::int64_t end, std::size_t k, std::size_t E,
                                                  std::int64_t *count, std::int64_t *repeats)
{
    constexpr std::size_t kTables = 4;
    // 32-bit tables (at E 256, k 8 the four fit the first-level cache; 64-bit ones do
    // not), added to `count` every 2^31 positions, before one could overflow.
    constexpr std::int64_t kSpan = std::int64_t(1) << 31;
    const std::size_t kk = K > 0 ? std::size_t(K) : k, n = kk * E;
    std::vector<std::uint32_t> tables(kTables * n);
    std::uint32_t *table[kTables];
    for (std::size_t i = 0; i < kTables; ++i)
        table[i] = tables.data() + i * n;
    for (std::int64_t from = begin; from < end; from += kSpan) {
        std::fill(tables.begin(), tables.end(), 0u);
        const std::int64_t to = std::min(end, from + kSpan);
        for (std::int64_t t = from; t < to; ++t) {
            if (!valid[t])
                continue;
            const std::int32_t *row = ids + std::size_t(t) * kk;
            std::uint32_t *c = table[std::size_t(t) % kTables];
            for (std::size_t s = 0; s < kk; ++s)
                ++c[s * E + std::size_t(row[s])];
            if constexpr (WithRepeats)
                if (Repeated::in(row, kk)) [[unlikely]]
                    for (std::size_t i = 1; i < kk; ++i)
                        repeats[row[i]] += std::find(row, row + i, row[i]) != row + i;
        }
        for (std::size_t i = 0; i < kTables; ++i)
            for (std::size_t j = 0; j < n; ++j)
                count[j] += table[i][j];
    }
}

// Whether a row names an expert twice.
struct RepeatedPlain {
    static bool in(const std::int32_t *row, std::size_t k)
    {
        for (std::size_t i = 1; i < k; ++i)
            if (std::find(row, row + i, row[i]) != row + i)
                return true;
        return false;
    }
};

#ifdef MOESCOPE_DROPS_AVX2
// A row of 8 against its rotations by 1 to 4: every pair of its slots meets once.
struct RepeatedAvx2 {
    __attribute__((target("avx2"))) static bool in(const std::int32_t *row, std::size_t)
    {
        const __m256i r = _mm256_loadu_si256(reinterpret_cast<const __m256i *>(row));
        const __m256i same =
            _mm256_or_si256(_mm256_or_si256(_mm256_cmpeq_epi32(r, rotated(r, 1)), _mm256_cmpeq_epi32(r, rotated(r, 2))),
                            _mm256_or_si256(_mm256_cmpeq_epi32(r, rotated(r, 3)), _mm256_cmpeq_epi32(r, rotated(r, 4))));
        return !_mm256_testz_si256(same, same);
    }
    __attribute__((target("avx2"))) static __m256i rotated(__m256i r, int by)
    {
        return _mm256_permutevar8x32_epi32(r, _mm256_setr_epi32(by & 7, (1 + by) & 7, (2 + by) & 7, (3 + by) & 7,
                                                                (4 + by) & 7, (5 + by) & 7, (6 + by) & 7, (7 + by) & 7));
    }
};

__attribute__((target("avx2"))) void countSlots8Avx2(const std::int32_t *ids, const std::uint8_t *valid,
                                                     std::int64_t begin, std::int64_t end, std::size_t E,
                                                     std::int64_t *count, std::int64_t *repeats)
{
    countSlotsWith<8, RepeatedAvx2, true>(ids, valid, begin, end, 8, E, count, repeats);
}
#endif

template <int K>
void countSlots(const std::int32_t *ids, const std::uint8_t *valid, std::int64_t begin, std::int64_t end,
                std::size_t k, std::size_t E, std::int64_t *count, std::int64_t *repeats)
{
#ifdef MOESCOPE_DROPS_AVX2
    static const bool avx2 = cpuHasAvx2();
    if (K == 8 && repeats && avx2)
        return countSlots8Avx2(ids, valid, begin, end, E, count, repeats);
#endif
    if (repeats)
        countSlotsWith<K, RepeatedPlain, true>(ids, valid, begin, end, k, E, count, repeats);
    else
        countSlotsWith<K, RepeatedPlain, false>(ids, valid, begin, end, k, E, count, repeats);
}

// Token order without building the order. Expert e's queue holds every slot-0
// assignment to e in position order, then every slot-1 one, ...; so a slot-s
// assignment is admitted iff fewer than C - (slot < s assignments to e) slot-s ones to
// e came before it. One pass counts per (slot, expert); the drops per expert follow
// from the counts; a second pass (only when anything drops) finds the tokens.
// With `counts`, also adds the group's c[e] to counts[e] (slot counts less repeats).
void admitInTokenOrder(const LayerChoices &c, std::int64_t begin, std::int64_t end, std::int64_t capacity,
                       std::uint16_t *dropsOfToken, DropReport &r, std::vector<std::int64_t> *counts)
{
    const std::size_t k = std::size_t(c.topK), E = std::size_t(c.numExperts);
    std::vector<std::int64_t> roomOf(k * E, 0), repeatsOf(counts ? E : 0, 0);
    // Plain pointers and local sums: byte stores could alias anything else.
    const std::int32_t *ids = c.ids.data();
    const std::uint8_t *valid = c.valid.data();
    std::int64_t *room = roomOf.data();
    std::int64_t *repeats = counts ? repeatsOf.data() : nullptr;
    std::uint16_t *lost = dropsOfToken;
    if (k == 8)
        countSlots<8>(ids, valid, begin, end, k, E, room, repeats);
    else if (k == 2)
        countSlots<2>(ids, valid, begin, end, k, E, room, repeats);
    else
        countSlots<0>(ids, valid, begin, end, k, E, room, repeats);
    std::int64_t total = 0;
    for (std::size_t e = 0; e < E; ++e) { // counts -> room left for each slot
        std::int64_t left = capacity, droppedHere = 0;
        if (counts) {
            std::int64_t named = -repeats[e];
            for (std::size_t s = 0; s < k; ++s)
                named += room[s * E + e];
            (*counts)[e] += named;
        }
        for (std::size_t s = 0; s < k; ++s) {
            const std::int64_t n = room[s * E + e];
            room[s * E + e] = left;
            droppedHere += std::max<std::int64_t>(0, n - left);
            left = std::max<std::int64_t>(0, left - n);
        }
        r.droppedPerExpert[e] += droppedHere;
        total += droppedHere;
    }
    r.dropped += total;
    if (total == 0)
        return;
    if (k == 8)
        lostInTokenOrder<8>(ids, valid, begin, end, k, E, room, lost);
    else if (k == 2)
        lostInTokenOrder<2>(ids, valid, begin, end, k, E, room, lost);
    else if (k == 1)
        lostInTokenOrder<1>(ids, valid, begin, end, k, E, room, lost);
    else
        lostInTokenOrder<0>(ids, valid, begin, end, k, E, room, lost);
}

} // namespace

void admissionOrder(const LayerChoices &c, std::int64_t begin, std::int64_t end, DropPolicy policy,
                    std::vector<Assignment> &order)
{
    order.clear();
    order.reserve(std::size_t((end - begin) * c.topK));
    // Token order (Switch): slot 0 of every token, then slot 1, ...
    for (int s = 0; s < c.topK; ++s)
        for (std::int64_t t = begin; t < end; ++t)
            if (c.valid[t])
                order.push_back({t, s});
    if (policy != DropPolicy::ScorePriority)
        return;
    // Descending gate probability; ties by position, then slot: a total order.
    std::sort(order.begin(), order.end(), [&](const Assignment &a, const Assignment &b) {
        const float pa = c.gateProbs[a.token * c.topK + a.slot];
        const float pb = c.gateProbs[b.token * c.topK + b.slot];
        if (pa != pb)
            return pa > pb;
        if (a.token != b.token)
            return a.token < b.token;
        return a.slot < b.slot;
    });
}

double stragglerFactor(const std::vector<std::int64_t> &counts, std::int64_t assignments)
{
    if (assignments <= 0 || counts.empty())
        return 0;
    const double mean = double(assignments) / double(counts.size());
    return double(*std::max_element(counts.begin(), counts.end())) / mean;
}

DropReport simulateCapacity(const LayerChoices &c, const std::vector<std::int64_t> &sequenceOffsets,
                            const CapacityRequest &request, const std::vector<std::int64_t> *knownCounts)
{
    DropReport r = simulateDrops(c, sequenceOffsets, request);
    r.stragglerFactor = stragglerFactor(knownCounts ? *knownCounts : c.counts(), r.assignments);
    return r;
}

DropReport simulateDrops(const LayerChoices &c, const std::vector<std::int64_t> &sequenceOffsets,
                         const CapacityRequest &request, std::vector<std::int64_t> *counts)
{
    const std::vector<std::int64_t> offsets =
        sequenceOffsets.size() >= 2 ? sequenceOffsets : std::vector<std::int64_t>{0, c.numPositions()};
    // Token order counts per (slot, expert) anyway: c[e] comes with it, one pass over
    // the choices instead of two, where its groups cover every position. Otherwise
    // they are counted on their own.
    const bool countsAlong = counts && request.policy == DropPolicy::TokenOrder &&
                             (request.group == CapacityGroup::Dump ||
                              (offsets.front() == 0 && offsets.back() == c.numPositions()));
    if (counts)
        *counts = countsAlong ? std::vector<std::int64_t>(std::size_t(c.numExperts), 0) : c.counts();
    DropReport r;
    const std::int64_t T = c.validTokens();
    r.assignments = std::int64_t(c.topK) * T;
    r.droppedPerExpert.assign(c.numExperts, 0);
    r.dropsByPosition.assign(kPositionBins, 0);
    if (request.policy == DropPolicy::None || T == 0)
        return r;
    if (request.policy == DropPolicy::ScorePriority && c.gateProbs.size() != c.ids.size())
        throw std::invalid_argument("score-priority dropping needs the gate probabilities (logits)");

    std::vector<std::pair<std::int64_t, std::int64_t>> groups;
    if (request.group == CapacityGroup::Sequence) {
        for (std::size_t s = 0; s + 1 < offsets.size(); ++s)
            groups.emplace_back(offsets[s], offsets[s + 1]);
    } else {
        groups.emplace_back(0, c.numPositions());
    }
    std::vector<std::int64_t> fill(c.numExperts);
    std::vector<Assignment> order;
    // Assignments each token lost (k <= E <= 4096 fits 16 bits).
    // Reused memory: a fresh T-long array for every layer cost more in page faults
    // than the counting that fills it.
    ReusedBuffer lostBuffer;
    auto *dropsOfToken = static_cast<std::uint16_t *>(lostBuffer.reserve(std::size_t(c.numPositions()) * 2));
    std::fill_n(dropsOfToken, c.numPositions(), std::uint16_t(0));
    for (const auto &[begin, end] : groups) {
        std::int64_t groupTokens = 0;
        for (std::int64_t t = begin; t < end; ++t)
            groupTokens += c.valid[t] != 0;
        const std::int64_t capacity = expertCapacity(request.capacityFactor, c.topK, groupTokens, c.numExperts);
        r.capacity = std::max(r.capacity, capacity);
        if (request.policy == DropPolicy::TokenOrder) {
            admitInTokenOrder(c, begin, end, capacity, dropsOfToken, r, countsAlong ? counts : nullptr);
        } else {
            admissionOrder(c, begin, end, request.policy, order);
            admit(c, order, capacity, fill, dropsOfToken, r);
        }
    }

    // Where the drops fall: by relative position within each sequence.
    for (std::size_t s = 0; s + 1 < offsets.size(); ++s) {
        const std::int64_t begin = offsets[s], length = offsets[s + 1] - offsets[s];
        // Bin b holds the t with floor((t - begin) * bins / length) == b: walk the bins'
        // bounds rather than divide for every token.
        for (int bin = 0; bin < kPositionBins; ++bin) {
            const std::int64_t from = begin + (bin * length + kPositionBins - 1) / kPositionBins;
            const std::int64_t to = begin + ((bin + 1) * length + kPositionBins - 1) / kPositionBins;
            std::int64_t drops = 0, full = 0;
            const std::uint8_t *valid = c.valid.data();
            const std::uint16_t *lostOf = dropsOfToken;
            const int topK = c.topK;
            for (std::int64_t t = from; t < to; ++t) {
                const int lost = valid[t] ? lostOf[t] : 0;
                drops += lost;
                full += lost >= topK;
            }
            r.dropsByPosition[bin] += drops;
            r.fullyDropped += full;
        }
    }
    r.droppedFraction = double(r.dropped) / double(r.assignments);
    r.fullyDroppedFraction = double(r.fullyDropped) / double(T);
    return r;
}

} // namespace moescope
