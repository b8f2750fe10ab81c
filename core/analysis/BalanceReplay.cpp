#include "analysis/BalanceReplay.h"

#include "analysis/LogitsChunks.h"

#include <cmath>
#include <limits>

namespace moescope {

BalanceResult replayBalance(const RoutingDump &dump, std::size_t layer, RoutingBackend &backend, RoutingRules rules,
                            double rate, std::int64_t batchTokens, const Progress &progress)
{
    rules.expertBias.clear(); // the simulation's bias replaces the layer's own
    BalanceSimulator sim(backend, rules, dump.info().numExperts, rate, batchTokens);
    forEachLogitsChunk(dump, layer, [&](const LogitsView &chunk, std::int64_t) { sim.add(chunk); }, progress);
    return sim.finish();
}

double meanOfLastBatches(const std::vector<double> &maxVio, double fraction)
{
    const std::size_t n = maxVio.size();
    const std::size_t from = n - std::min(n, std::size_t(std::ceil(double(n) * fraction)));
    double sum = 0;
    std::size_t count = 0;
    for (std::size_t i = from; i < n; ++i)
        if (!std::isnan(maxVio[i])) {
            sum += maxVio[i];
            ++count;
        }
    return count ? sum / double(count) : std::numeric_limits<double>::quiet_NaN();
}

} // namespace moescope
