#pragma once
// Load and balance of one layer from its expert counts (routing.md, "Load").
#include <cstdint>
#include <vector>

namespace moescope {

inline constexpr double kDefaultCapacityFactor = 1.25;
inline constexpr double kColdFraction = 0.1; // cold: c[e] < 0.1 * mean load

struct LoadMetrics {
    double meanLoad = 0;          // m = k * T / E
    std::vector<double> share;    // u[e] = c[e] / (k * T)
    std::vector<int> hot, cold;   // expert ids, ascending
    double cv = 0;                // population std(c) / m
    double maxVio = 0;            // (max c - m) / m
    double entropy = 0;           // -sum u ln u / ln E; 0 when E = 1
    // Every ratio is NaN when T = 0 (no valid token): there is no load to judge.
};

// counts: c[e]; tokens: T, the valid tokens; capacityFactor: CF for "hot".
LoadMetrics computeLoad(const std::vector<std::int64_t> &counts, int topK, std::int64_t tokens,
                        double capacityFactor);

// Load-balancing loss (Switch): E * sum_e (c[e] / T) * P[e], P the mean softmax
// probabilities. NaN when T = 0.
double loadBalancingLoss(const std::vector<std::int64_t> &counts, std::int64_t tokens,
                         const std::vector<double> &meanProb);

} // namespace moescope
