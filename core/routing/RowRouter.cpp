#include "routing/RowRouter.h"

#include "io/Float16.h"

#include <algorithm>
#include <cmath>

namespace moescope {

const char *scoringName(Scoring s) { return s == Scoring::Sigmoid ? "sigmoid" : "softmax"; }

template <typename Real>
bool rowIsFinite(const Real *z, int E)
{
    for (int e = 0; e < E; ++e)
        if (!std::isfinite(z[e]))
            return false;
    return true;
}

namespace {

// The one expression of the sigmoid score, so every place that needs it gets the same bits.
double sigmoidOf(double x) { return 1.0 / (1.0 + std::exp(-x)); }

template <typename Real>
double maxOf(const Real *z, int E)
{
    double m = double(z[0]);
    for (int e = 1; e < E; ++e)
        m = std::max(m, double(z[e]));
    return m;
}

} // namespace

template <typename Real>
bool rowScores(const Real *z, int E, const RoutingRules &rules, double *p)
{
    if (!rowIsFinite(z, E))
        return false;
    if (rules.inputsAreProbabilities) {
        for (int e = 0; e < E; ++e)
            p[e] = double(z[e]);
    } else if (rules.scoring == Scoring::Sigmoid) {
        for (int e = 0; e < E; ++e)
            p[e] = sigmoidOf(double(z[e]));
    } else {
        const double m = maxOf(z, E);
        double sum = 0;
        for (int e = 0; e < E; ++e)
            sum += (p[e] = std::exp(double(z[e]) - m));
        for (int e = 0; e < E; ++e)
            p[e] /= sum;
    }
    return true;
}

template <typename Real>
void chosenScores(const Real *z, int E, const RoutingRules &rules, const std::int32_t *ids, int k, double *p)
{
    if (rules.inputsAreProbabilities) {
        for (int i = 0; i < k; ++i)
            p[i] = double(z[ids[i]]);
    } else if (rules.scoring == Scoring::Sigmoid) {
        for (int i = 0; i < k; ++i)
            p[i] = sigmoidOf(double(z[ids[i]]));
    } else { // rowScores' softmax: the same sum in the same order
        const double m = maxOf(z, E);
        double sum = 0;
        for (int e = 0; e < E; ++e)
            sum += std::exp(double(z[e]) - m);
        for (int i = 0; i < k; ++i)
            p[i] = std::exp(double(z[ids[i]]) - m) / sum;
    }
}

void gateOutputs(const double *p, int k, const RoutingRules &rules, RowOutput out)
{
    if (out.gateProbs)
        for (int i = 0; i < k; ++i)
            out.gateProbs[i] = float(p[i]);
    if (out.weights) {
        double sum = 0;
        for (int i = 0; i < k; ++i)
            sum += p[i];
        const double scale = (rules.normalizeTopK && sum > 0 ? 1.0 / sum : 1.0) * rules.routedScalingFactor;
        for (int i = 0; i < k; ++i)
            out.weights[i] = float(p[i] * scale);
    }
}

namespace {

// topK for k <= K with the list in registers: a key that beats the k-th goes in by a
// fixed chain of selects rather than a loop whose end the processor cannot predict.
template <int K>
void topKFixed(const double *key, int E, int k, std::int32_t *ids)
{
    double b[K];
    std::int32_t id[K];
    for (int i = 0; i < K; ++i) {
        b[i] = -INFINITY;
        id[i] = -1;
    }
    for (int e = 0; e < E; ++e) {
        double v = key[e];
        if (id[k - 1] >= 0 && !(v > b[k - 1]))
            continue;
        // From the first place it beats (strictly: an equal key keeps its place, being
        // the lower id) or an empty one, every entry moves down one.
        std::int32_t ve = e;
        bool moving = false;
        for (int i = 0; i < K; ++i) {
            moving = moving || v > b[i] || id[i] < 0;
            const double bi = b[i];
            const std::int32_t ii = id[i];
            b[i] = moving ? v : bi;
            id[i] = moving ? ve : ii;
            v = moving ? bi : v;
            ve = moving ? ii : ve;
        }
    }
    for (int i = 0; i < k; ++i)
        ids[i] = id[i];
}

// Keeps the k largest keys, best first; a later (higher) id never displaces an equal
// key, which is the spec's tie rule. Keys of -inf (experts out of the running) only
// fill places that real keys then take.
void topK(const double *key, int E, int k, std::int32_t *ids)
{
    if (k <= 4)
        return topKFixed<4>(key, E, k, ids);
    if (k <= 8)
        return topKFixed<8>(key, E, k, ids);
    double best[64];
    int count = 0;
    std::vector<double> bigBest;
    double *b = best;
    if (k > 64) {
        bigBest.resize(k);
        b = bigBest.data();
    }
    for (int e = 0; e < E; ++e) {
        const double v = key[e];
        if (count == k && !(v > b[k - 1]))
            continue;
        int pos = count < k ? count : k - 1;
        while (pos > 0 && v > b[pos - 1]) {
            b[pos] = b[pos - 1];
            ids[pos] = ids[pos - 1];
            --pos;
        }
        b[pos] = v;
        ids[pos] = e;
        if (count < k)
            ++count;
    }
}

// DeepSeek-V3 group-limited choice: a group's score is the sum of its two best keys;
// only the best topKGroups groups (ties to the lower group) stay in the running, the
// keys of the others become -inf (enough real keys remain: checked on opening).
void keepBestGroups(double *key, int E, const RoutingRules &rules, RowScratch &s)
{
    const int G = rules.numGroups, size = E / G;
    s.groupScores.resize(G);
    for (int g = 0; g < G; ++g) {
        double first = -INFINITY, second = -INFINITY;
        for (int e = g * size; e < (g + 1) * size; ++e) { // without branches: keys are finite
            second = std::max(second, std::min(first, key[e]));
            first = std::max(first, key[e]);
        }
        s.groupScores[g] = size == 1 ? first : first + second;
    }
    s.chosenGroups.resize(std::size_t(rules.topKGroups));
    topK(s.groupScores.data(), G, rules.topKGroups, s.chosenGroups.data());
    s.groupKept.assign(std::size_t(G), 0);
    for (const std::int32_t g : s.chosenGroups)
        s.groupKept[std::size_t(g)] = 1;
    for (int g = 0; g < G; ++g)
        if (!s.groupKept[std::size_t(g)])
            std::fill(key + g * size, key + (g + 1) * size, -INFINITY);
}

} // namespace

template <typename Real>
bool routeRow(const Real *z, int E, const RoutingRules &rules, RowOutput out, RowScratch &s)
{
    if (!rowIsFinite(z, E))
        return false;
    s.probs.resize(E);
    rowScores(z, E, rules, s.probs.data());
    chooseRow(z, s.probs.data(), E, rules, out, s);
    return true;
}

template <typename Real>
void chooseRow(const Real *z, const double *p, int E, const RoutingRules &rules, RowOutput out, RowScratch &s)
{
    const int k = rules.topK;
    s.keys.resize(E);
    const bool biased = rules.hasBias();
    for (int e = 0; e < E; ++e) {
        // Without a bias the order of p is the order of z (scoring is monotone), and
        // comparing z avoids ties that rounding of exp() would create.
        if (biased || rules.groupLimited() || rules.inputsAreProbabilities)
            s.keys[e] = p[e] + (biased ? rules.expertBias[e] : 0.0);
        else
            s.keys[e] = double(z[e]);
    }
    if (rules.groupLimited())
        keepBestGroups(s.keys.data(), E, rules, s);
    std::int32_t local[64];
    std::vector<std::int32_t> bigLocal;
    std::int32_t *ids = out.ids;
    if (!ids) {
        if (k > 64)
            bigLocal.resize(k);
        ids = k > 64 ? bigLocal.data() : local;
    }
    topK(s.keys.data(), E, k, ids);
    if (out.gateProbs || out.weights) {
        s.chosen.resize(std::size_t(k));
        for (int i = 0; i < k; ++i)
            s.chosen[std::size_t(i)] = p[ids[i]];
        gateOutputs(s.chosen.data(), k, rules, out);
    }
}

const double *sigmoidOfHalves()
{
    static const std::vector<double> table = [] {
        std::vector<double> t(65536, 0.0);
        for (std::uint32_t h = 0; h < 65536; ++h) {
            const float x = halfToFloat(std::uint16_t(h));
            if (std::isfinite(x)) // rowScores' expression on the same float
                t[h] = sigmoidOf(double(x));
        }
        return t;
    }();
    return table.data();
}

template <typename Real>
void addLossTerms(const Real *z, int E, bool inputsAreProbabilities, double *probSum, double &zSquaredSum)
{
    if (inputsAreProbabilities) {
        for (int e = 0; e < E; ++e)
            probSum[e] += double(z[e]);
        return;
    }
    double m = double(z[0]);
    for (int e = 1; e < E; ++e)
        m = std::max(m, double(z[e]));
    double sum = 0;
    for (int e = 0; e < E; ++e)
        sum += std::exp(double(z[e]) - m);
    const double inv = 1.0 / sum;
    for (int e = 0; e < E; ++e)
        probSum[e] += std::exp(double(z[e]) - m) * inv;
    const double lse = m + std::log(sum);
    zSquaredSum += lse * lse;
}

template bool rowIsFinite<float>(const float *, int);
template bool rowIsFinite<double>(const double *, int);
template bool rowScores<float>(const float *, int, const RoutingRules &, double *);
template bool rowScores<double>(const double *, int, const RoutingRules &, double *);
template bool routeRow<float>(const float *, int, const RoutingRules &, RowOutput, RowScratch &);
template void chosenScores<float>(const float *, int, const RoutingRules &, const std::int32_t *, int, double *);
template void chooseRow<float>(const float *, const double *, int, const RoutingRules &, RowOutput, RowScratch &);
template void chooseRow<double>(const double *, const double *, int, const RoutingRules &, RowOutput,
                                RowScratch &);
template bool routeRow<double>(const double *, int, const RoutingRules &, RowOutput, RowScratch &);
template void addLossTerms<float>(const float *, int, bool, double *, double &);
template void addLossTerms<double>(const double *, int, bool, double *, double &);

} // namespace moescope
