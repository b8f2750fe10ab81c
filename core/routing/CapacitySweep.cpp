#include "routing/CapacitySweep.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <stdexcept>
#include <utility>

namespace moescope {

CapacityRanks rankAssignments(const LayerChoices &c, const std::vector<std::int64_t> &sequenceOffsets,
                              DropPolicy policy, CapacityGroup grouping)
{
    if (policy == DropPolicy::ScorePriority && c.gateProbs.size() != c.ids.size())
        throw std::invalid_argument("score-priority ranking needs the gate probabilities (logits)");
    const std::int64_t T = c.numPositions();
    std::vector<std::int64_t> bounds{0, T};
    if (grouping == CapacityGroup::Sequence && sequenceOffsets.size() >= 2)
        bounds = sequenceOffsets;

    CapacityRanks r;
    r.numExperts = c.numExperts;
    r.topK = c.topK;
    // Index of each valid position among the valid ones (rows of r.ranks).
    std::vector<std::int64_t> row(std::size_t(T), -1);
    std::int64_t validCount = 0;
    for (std::int64_t t = 0; t < T; ++t)
        if (c.valid[t])
            row[t] = validCount++;
    r.ranks.assign(std::size_t(validCount * c.topK), 0);
    r.minRank.assign(std::size_t(validCount), std::numeric_limits<std::int32_t>::max());
    r.group.assign(std::size_t(validCount), 0);

    const std::size_t k = std::size_t(c.topK), E = std::size_t(c.numExperts);
    std::vector<std::int64_t> fill(E), next(k * E);
    std::vector<Assignment> order;
    for (std::size_t g = 0; g + 1 < bounds.size(); ++g) {
        const std::int64_t begin = bounds[g], end = bounds[g + 1];
        std::int64_t tokens = 0;
        for (std::int64_t t = begin; t < end; ++t)
            if (c.valid[t]) {
                r.group[row[t]] = std::int32_t(g);
                ++tokens;
            }
        r.groupTokens.push_back(tokens);
        if (std::size_t(tokens) * k >= std::size_t(std::numeric_limits<std::int32_t>::max()))
            throw std::invalid_argument("a capacity group holds 2^31 assignments or more");
        if (policy != DropPolicy::ScorePriority) {
            // Token order without building it: expert e's queue holds all slot-0
            // assignments to e in position order, then the slot-1 ones, ... So the rank
            // of (t, s) is the number of slot < s assignments to e plus the slot-s ones
            // before t: one pass for the counts per (slot, expert), one for the ranks.
            std::fill(next.begin(), next.end(), 0);
            for (std::int64_t t = begin; t < end; ++t)
                if (c.valid[t])
                    for (std::size_t s = 0; s < k; ++s)
                        ++next[s * E + std::size_t(c.ids[std::size_t(t) * k + s])];
            for (std::size_t e = 0; e < E; ++e) { // counts -> first rank of each (slot, expert)
                std::int64_t before = 0;
                for (std::size_t s = 0; s < k; ++s)
                    before += std::exchange(next[s * E + e], before);
            }
            for (std::int64_t t = begin; t < end; ++t) {
                if (!c.valid[t])
                    continue;
                const std::int64_t v = row[t];
                std::int32_t best = std::numeric_limits<std::int32_t>::max();
                for (std::size_t s = 0; s < k; ++s) {
                    const auto rank = std::int32_t(next[s * E + std::size_t(c.ids[std::size_t(t) * k + s])]++);
                    r.ranks[std::size_t(v) * k + s] = rank;
                    best = std::min(best, rank);
                }
                r.minRank[v] = best;
            }
            continue;
        }
        admissionOrder(c, begin, end, policy, order);
        std::fill(fill.begin(), fill.end(), 0);
        for (const Assignment &a : order) {
            const int e = c.ids[a.token * c.topK + a.slot];
            const auto rank = std::int32_t(fill[e]++);
            const std::int64_t v = row[a.token];
            r.ranks[v * c.topK + a.slot] = rank;
            r.minRank[v] = std::min(r.minRank[v], rank);
        }
    }
    return r;
}

std::vector<std::int64_t> capacityTable(const CapacityRanks &ranks, const std::vector<double> &factors)
{
    const std::size_t N = factors.size();
    std::vector<std::int64_t> table(ranks.groupTokens.size() * N);
    for (std::size_t g = 0; g < ranks.groupTokens.size(); ++g)
        for (std::size_t j = 0; j < N; ++j)
            table[g * N + j] = expertCapacity(factors[j], ranks.topK, ranks.groupTokens[g], ranks.numExperts);
    return table;
}

void finishSweep(const CapacityRanks &ranks, CapacitySweepResult &r)
{
    const std::size_t N = r.factors.size();
    const double tokens = double(ranks.validTokens());
    const double assignments = tokens * ranks.topK;
    r.droppedFraction.assign(N, 0.0);
    r.fullyDroppedFraction.assign(N, 0.0);
    r.capacity.assign(N, 0);
    const std::vector<std::int64_t> table = capacityTable(ranks, r.factors);
    for (std::size_t g = 0; g < ranks.groupTokens.size(); ++g)
        for (std::size_t j = 0; j < N; ++j)
            r.capacity[j] = std::max(r.capacity[j], table[g * N + j]);
    for (std::size_t j = 0; j < N && tokens > 0; ++j) {
        r.droppedFraction[j] = double(r.dropped[j]) / assignments;
        r.fullyDroppedFraction[j] = double(r.fullyDropped[j]) / tokens;
    }
}

CapacitySweepResult sweepCapacityOnCpu(const CapacityRanks &ranks, const std::vector<double> &factors)
{
    const std::size_t N = factors.size();
    CapacitySweepResult r;
    r.factors = factors;
    r.dropped.assign(N, 0);
    r.fullyDropped.assign(N, 0);
    const std::vector<std::int64_t> table = capacityTable(ranks, factors);
    const std::size_t k = std::size_t(ranks.topK);

    // Tokens of a group are contiguous in position order; walk group by group.
    std::vector<std::int64_t> rankHist, minHist;
    std::size_t v = 0;
    const std::size_t Tv = ranks.minRank.size();
    for (std::size_t g = 0; g < ranks.groupTokens.size(); ++g) {
        const std::size_t n = std::size_t(ranks.groupTokens[g]);
        // Ranks are below k * n; one extra slot holds the suffix sum's end.
        rankHist.assign(k * n + 1, 0);
        minHist.assign(k * n + 1, 0);
        for (std::size_t i = 0; i < n && v < Tv; ++i, ++v) {
            for (std::size_t s = 0; s < k; ++s)
                ++rankHist[std::size_t(ranks.ranks[v * k + s])];
            ++minHist[std::size_t(ranks.minRank[v])];
        }
        for (std::size_t i = rankHist.size() - 1; i-- > 0;) {
            rankHist[i] += rankHist[i + 1]; // now: assignments with rank >= i
            minHist[i] += minHist[i + 1];
        }
        for (std::size_t j = 0; j < N; ++j) {
            const auto C = std::size_t(std::max<std::int64_t>(0, table[g * N + j]));
            if (C < rankHist.size()) {
                r.dropped[j] += rankHist[C];
                r.fullyDropped[j] += minHist[C];
            }
        }
    }
    finishSweep(ranks, r);
    return r;
}

std::vector<double> capacityFactorRange(double from, double to, double step)
{
    if (!(from > 0) || !(to >= from) || !(step > 0) || !std::isfinite(to))
        throw std::invalid_argument("the capacity range A:B:STEP needs 0 < A <= B and STEP > 0");
    const double n = std::floor((to - from) / step + 1e-9);
    if (n >= 100000)
        throw std::invalid_argument("the capacity range A:B:STEP holds more than 100000 factors");
    std::vector<double> factors;
    for (long i = 0; i <= long(n); ++i)
        factors.push_back(from + double(i) * step);
    return factors;
}

} // namespace moescope
