#include "analysis/TokenGates.h"

#include "routing/RowRouter.h"

#include <stdexcept>

namespace moescope {

TokenGates tokenGates(const RoutingDump &dump, std::size_t layer, std::int64_t position)
{
    const DumpInfo &info = dump.info();
    const LayerInfo &li = info.layers.at(layer);
    if (position < 0 || position >= info.numTokens)
        throw std::out_of_range("tokenGates: position outside the dump");
    const auto row = std::uint64_t(position);
    const int E = info.numExperts;
    TokenGates g;

    std::vector<double> logits;
    if (li.hasLogits) {
        logits.resize(std::size_t(E));
        dump.readLogits(layer, row, 1, logits.data());
    }
    if (li.hasTopkIds) {
        g.recorded = true;
        g.experts.resize(std::size_t(info.topK));
        dump.readTopkIds(layer, row, 1, g.experts.data());
        if (li.hasTopkWeights) {
            g.weightsRecorded = true;
            g.weights.resize(g.experts.size());
            dump.readTopkWeights(layer, row, 1, g.weights.data());
            return g;
        }
    }
    if (logits.empty())
        return g;

    RoutingRules rules = info.routingRules(layer);
    RowScratch scratch;
    if (!g.recorded) {
        g.experts.resize(std::size_t(rules.topK));
        g.weights.resize(g.experts.size());
        if (!routeRow(logits.data(), E, rules, {g.experts.data(), g.weights.data(), nullptr}, scratch)) {
            g.experts.clear();
            g.weights.clear();
        }
        return g;
    }
    // Recorded choices without recorded weights: the weights the rules give those
    // experts. Ranking every expert yields p[t, e] for all of them at once.
    rules.topK = E;
    std::vector<std::int32_t> order(static_cast<std::size_t>(E));
    std::vector<float> probs(static_cast<std::size_t>(E));
    if (!routeRow(logits.data(), E, rules, {order.data(), nullptr, probs.data()}, scratch))
        return g;
    std::vector<double> p(static_cast<std::size_t>(E), 0.0);
    for (int i = 0; i < E; ++i)
        p[std::size_t(order[std::size_t(i)])] = probs[std::size_t(i)];
    double sum = 0;
    for (std::int32_t e : g.experts)
        sum += p[std::size_t(e)];
    const double scale = (rules.normalizeTopK && sum > 0 ? 1.0 / sum : 1.0) * rules.routedScalingFactor;
    for (std::int32_t e : g.experts)
        g.weights.push_back(float(p[std::size_t(e)] * scale));
    return g;
}

} // namespace moescope
