#include "stats/LoadMetrics.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace moescope {

LoadMetrics computeLoad(const std::vector<std::int64_t> &counts, int topK, std::int64_t tokens,
                        double capacityFactor)
{
    LoadMetrics m;
    const std::size_t E = counts.size();
    m.share.assign(E, 0.0);
    const double assignments = double(topK) * double(tokens);
    if (tokens <= 0 || E == 0) {
        const double nan = std::numeric_limits<double>::quiet_NaN();
        m.cv = m.maxVio = m.entropy = nan;
        return m;
    }
    m.meanLoad = assignments / double(E);
    double variance = 0, entropy = 0;
    std::int64_t maxCount = 0;
    for (std::size_t e = 0; e < E; ++e) {
        const double c = double(counts[e]);
        m.share[e] = c / assignments;
        variance += (c - m.meanLoad) * (c - m.meanLoad);
        if (m.share[e] > 0)
            entropy -= m.share[e] * std::log(m.share[e]);
        maxCount = std::max(maxCount, counts[e]);
        if (c > capacityFactor * m.meanLoad)
            m.hot.push_back(int(e));
        if (c < kColdFraction * m.meanLoad)
            m.cold.push_back(int(e));
    }
    m.cv = std::sqrt(variance / double(E)) / m.meanLoad;
    m.maxVio = (double(maxCount) - m.meanLoad) / m.meanLoad;
    m.entropy = E > 1 ? entropy / std::log(double(E)) : 0.0;
    return m;
}

double loadBalancingLoss(const std::vector<std::int64_t> &counts, std::int64_t tokens,
                         const std::vector<double> &meanProb)
{
    if (tokens <= 0)
        return std::numeric_limits<double>::quiet_NaN();
    double sum = 0;
    for (std::size_t e = 0; e < counts.size(); ++e)
        sum += double(counts[e]) / double(tokens) * meanProb[e];
    return double(counts.size()) * sum;
}

} // namespace moescope
