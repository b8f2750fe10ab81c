#pragma once
// A plain global expert-parallel balancer for the tests (one group, one node, as
// docs/placement.md words it): replicas one at a time to the expert with the largest
// load per replica, then every replica, heaviest first, to the lightest rank that
// still has room. Written for clarity, apart from the code under test.
#include <algorithm>
#include <tuple>
#include <vector>

namespace moescope::test {

// The rank of every replica of every expert: result[e] lists one rank per replica.
inline std::vector<std::vector<int>> plainGlobalPlacement(const std::vector<double> &w, int P, int R)
{
    const int E = int(w.size());
    std::vector<int> r(E, 1);
    for (int added = 0; added < P - E; ++added) {
        int best = 0;
        for (int e = 0; e < E; ++e)
            if (w[e] / r[e] > w[best] / r[best])
                best = e;
        ++r[best];
    }
    std::vector<std::tuple<double, int>> items; // (load per replica, expert)
    for (int e = 0; e < E; ++e)
        for (int j = 0; j < r[e]; ++j)
            items.emplace_back(w[e] / r[e], e);
    std::stable_sort(items.begin(), items.end(), [](const auto &a, const auto &b) { return std::get<0>(a) > std::get<0>(b); });
    std::vector<double> L(R, 0.0);
    std::vector<int> n(R, 0);
    std::vector<std::vector<int>> ranks(E);
    for (const auto &[x, e] : items) {
        int best = -1;
        for (int k = 0; k < R; ++k)
            if (n[k] < P / R && (best < 0 || L[k] < L[best]))
                best = k;
        L[best] += x;
        ++n[best];
        ranks[e].push_back(best);
    }
    return ranks;
}

// Rank loads of `load` under a placement given as ranks per replica.
inline std::vector<double> plainRankLoads(const std::vector<std::vector<int>> &ranks, const std::vector<double> &load,
                                          int R)
{
    std::vector<double> L(R, 0.0);
    for (std::size_t e = 0; e < ranks.size(); ++e)
        for (int rank : ranks[e])
            L[rank] += load[e] / double(ranks[e].size());
    return L;
}

inline std::vector<double> plainGlobalRankLoads(const std::vector<double> &w, int P, int R)
{
    return plainRankLoads(plainGlobalPlacement(w, P, R), w, R);
}

} // namespace moescope::test
