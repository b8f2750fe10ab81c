#include "RoutingReference.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

namespace moescope::test {

namespace {

std::vector<double> softmaxOf(const double *z, int E)
{
    const double m = *std::max_element(z, z + E);
    std::vector<double> p(E);
    double sum = 0;
    for (int e = 0; e < E; ++e)
        sum += (p[e] = std::exp(z[e] - m));
    for (double &v : p)
        v /= sum;
    return p;
}

// The scores the rules turn logits into.
std::vector<double> scoresOf(const double *z, int E, const RoutingRules &rules)
{
    if (rules.inputsAreProbabilities)
        return std::vector<double>(z, z + E);
    if (rules.scoring == Scoring::Sigmoid) {
        std::vector<double> p(E);
        for (int e = 0; e < E; ++e)
            p[e] = 1.0 / (1.0 + std::exp(-z[e]));
        return p;
    }
    return softmaxOf(z, E);
}

// Indices of `values` sorted best first, ties to the lower index.
std::vector<int> rankDescending(const std::vector<double> &values)
{
    std::vector<int> order(values.size());
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return values[a] > values[b]; });
    return order;
}

std::vector<std::vector<std::int64_t>> groupsOf(const std::vector<std::int64_t> &offsets, int T, bool perSequence)
{
    std::vector<std::vector<std::int64_t>> groups;
    if (perSequence && offsets.size() >= 2) {
        for (std::size_t s = 0; s + 1 < offsets.size(); ++s) {
            groups.emplace_back();
            for (std::int64_t t = offsets[s]; t < offsets[s + 1]; ++t)
                groups.back().push_back(t);
        }
    } else {
        groups.emplace_back(std::size_t(T));
        std::iota(groups.back().begin(), groups.back().end(), 0);
    }
    return groups;
}

} // namespace

ReferenceLayer referenceRoute(const std::vector<double> &logits, int T, int E, const RoutingRules &rules)
{
    ReferenceLayer out;
    const int k = rules.topK;
    out.numExperts = E;
    out.topK = k;
    out.valid.assign(T, 0);
    out.ids.assign(std::size_t(T) * k, 0);
    out.weights.assign(std::size_t(T) * k, 0);
    out.gateProbs.assign(std::size_t(T) * k, 0);
    out.keys.assign(std::size_t(T) * E, -INFINITY);
    out.counts.assign(E, 0);
    out.probSum.assign(E, 0);
    for (int t = 0; t < T; ++t) {
        const double *z = logits.data() + std::size_t(t) * E;
        if (!std::all_of(z, z + E, [](double v) { return std::isfinite(v); }))
            continue;
        out.valid[t] = 1;
        ++out.validRows;
        const std::vector<double> p = scoresOf(z, E, rules);
        // The spec chooses by p + b. Without bias and groups that order is the order of
        // z (scoring is monotone), and comparing z avoids ties rounding would invent.
        std::vector<double> key(E);
        const bool plain = !rules.hasBias() && !rules.groupLimited();
        for (int e = 0; e < E; ++e)
            key[e] = plain ? z[e] : p[e] + (rules.hasBias() ? rules.expertBias[e] : 0.0);
        if (rules.groupLimited()) {
            const int G = rules.numGroups, size = E / G;
            std::vector<double> groupScore(G);
            for (int g = 0; g < G; ++g) {
                std::vector<double> members(key.begin() + g * size, key.begin() + (g + 1) * size);
                std::sort(members.begin(), members.end(), std::greater<>());
                groupScore[g] = members[0] + (size > 1 ? members[1] : 0.0);
            }
            const std::vector<int> best = rankDescending(groupScore);
            std::vector<bool> kept(G, false);
            for (int i = 0; i < rules.topKGroups; ++i)
                kept[best[i]] = true;
            for (int e = 0; e < E; ++e)
                if (!kept[e / size])
                    key[e] = -INFINITY;
        }
        const std::vector<int> order = rankDescending(key);
        double chosenSum = 0;
        for (int i = 0; i < k; ++i)
            chosenSum += p[order[i]];
        for (int i = 0; i < k; ++i) {
            const int e = order[i];
            out.ids[std::size_t(t) * k + i] = e;
            out.gateProbs[std::size_t(t) * k + i] = p[e];
            out.weights[std::size_t(t) * k + i] =
                p[e] / (rules.normalizeTopK && chosenSum > 0 ? chosenSum : 1.0) * rules.routedScalingFactor;
            ++out.counts[e];
        }
        std::copy(key.begin(), key.end(), out.keys.begin() + std::size_t(t) * E);
        if (rules.inputsAreProbabilities) {
            for (int e = 0; e < E; ++e)
                out.probSum[e] += z[e];
        } else {
            const std::vector<double> soft = softmaxOf(z, E);
            for (int e = 0; e < E; ++e)
                out.probSum[e] += soft[e];
            const double m = *std::max_element(z, z + E);
            double sum = 0;
            for (int e = 0; e < E; ++e)
                sum += std::exp(z[e] - m);
            const double lse = m + std::log(sum);
            out.zSquaredSum += lse * lse;
        }
    }
    return out;
}

ReferenceDrops referenceDrops(const ReferenceLayer &layer, const std::vector<std::int64_t> &offsets,
                              double capacityFactor, bool scorePriority, bool perSequence)
{
    const int T = int(layer.valid.size()), k = layer.topK, E = layer.numExperts;
    ReferenceDrops r;
    std::vector<int> lost(T, 0);
    for (const auto &group : groupsOf(offsets, T, perSequence)) {
        std::vector<std::int64_t> tokens;
        for (std::int64_t t : group)
            if (layer.valid[t])
                tokens.push_back(t);
        const auto C = std::int64_t(std::ceil(capacityFactor * k * double(tokens.size()) / E));
        std::vector<std::pair<std::int64_t, int>> order;
        for (int s = 0; s < k; ++s)
            for (std::int64_t t : tokens)
                order.push_back({t, s});
        if (scorePriority) // descending gate probability; ties by position, then slot
            std::sort(order.begin(), order.end(), [&](const auto &a, const auto &b) {
                const float pa = float(layer.gateProbs[a.first * k + a.second]);
                const float pb = float(layer.gateProbs[b.first * k + b.second]);
                return pa != pb ? pa > pb : a < b;
            });
        std::vector<std::int64_t> fill(E, 0);
        for (const auto &[t, s] : order) {
            const int e = layer.ids[t * k + s];
            if (fill[e] < C) {
                ++fill[e];
            } else {
                ++lost[t];
                ++r.dropped;
            }
        }
    }
    for (int t = 0; t < T; ++t)
        r.fullyDropped += layer.valid[t] && lost[t] >= k;
    return r;
}

ReferenceExpertChoice referenceExpertChoice(const std::vector<double> &logits, int T, int E,
                                            const RoutingRules &rules, const std::vector<std::int64_t> &offsets,
                                            double capacityFactor, bool perSequence)
{
    ReferenceExpertChoice r;
    r.taken.assign(E, 0);
    r.expertsOfToken.assign(T, 0);
    std::vector<std::vector<double>> p(T);
    std::vector<bool> valid(T, false);
    for (int t = 0; t < T; ++t) {
        const double *z = logits.data() + std::size_t(t) * E;
        valid[t] = std::all_of(z, z + E, [](double v) { return std::isfinite(v); });
        if (valid[t])
            p[t] = scoresOf(z, E, rules);
    }
    for (const auto &group : groupsOf(offsets, T, perSequence)) {
        std::vector<std::int64_t> tokens;
        for (std::int64_t t : group)
            if (valid[t])
                tokens.push_back(t);
        const auto C = std::int64_t(std::ceil(capacityFactor * rules.topK * double(tokens.size()) / E));
        r.capacity.push_back(C);
        for (int e = 0; e < E; ++e) {
            std::vector<std::int64_t> order = tokens;
            std::stable_sort(order.begin(), order.end(),
                             [&](std::int64_t a, std::int64_t b) { return p[a][e] > p[b][e]; });
            for (std::size_t i = 0; i < order.size() && std::int64_t(i) < C; ++i) {
                ++r.taken[e];
                ++r.expertsOfToken[order[i]];
            }
        }
    }
    for (int t = 0; t < T; ++t)
        r.unrouted += valid[t] && r.expertsOfToken[t] == 0;
    return r;
}

ReferenceBalance referenceBalance(const std::vector<double> &logits, int T, int E, const RoutingRules &rules,
                                  double rate, int batchTokens)
{
    ReferenceBalance r;
    std::vector<double> bias(E, 0.0);
    const auto maxVio = [&](const std::vector<std::int64_t> &c, std::int64_t tokens) {
        if (tokens == 0)
            return std::numeric_limits<double>::quiet_NaN();
        const double m = double(rules.topK) * double(tokens) / E;
        return (double(*std::max_element(c.begin(), c.end())) - m) / m;
    };
    for (int begin = 0; begin < T; begin += batchTokens) {
        const int rows = std::min(batchTokens, T - begin);
        const std::vector<double> batch(logits.begin() + std::size_t(begin) * E,
                                        logits.begin() + std::size_t(begin + rows) * E);
        RoutingRules with = rules, without = rules;
        with.expertBias = bias;
        without.expertBias.clear();
        const ReferenceLayer a = referenceRoute(batch, rows, E, with);
        const ReferenceLayer b = referenceRoute(batch, rows, E, without);
        r.maxVioWith.push_back(maxVio(a.counts, a.validRows));
        r.maxVioWithout.push_back(maxVio(b.counts, b.validRows));
        if (a.validRows == 0)
            continue;
        const double mean = double(rules.topK) * double(a.validRows) / E;
        for (int e = 0; e < E; ++e) {
            const double gap = mean - double(a.counts[e]);
            bias[e] += rate * double((gap > 0) - (gap < 0));
        }
    }
    r.finalBias = bias;
    return r;
}

} // namespace moescope::test
