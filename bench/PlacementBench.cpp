// moescope_bench_placement: how long expert-parallel placement takes once the counts
// are known (58 layers x 256 experts, DeepSeek-V3's shape, R = 64 and R = 32 with
// redundant replicas), and the all-to-all over 1 M tokens (top-8) against one plain
// pass over the same choices (counting c[e]). Random skewed loads, seeded.
#include "placement/ModelPlacement.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <random>

using namespace moescope;

namespace {
template <typename F>
double medianSeconds(F &&f, int runs = 7)
{
    std::vector<double> t;
    for (int i = 0; i < runs; ++i) {
        const auto start = std::chrono::steady_clock::now();
        f();
        t.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    }
    std::sort(t.begin(), t.end());
    return t[t.size() / 2];
}

PlacementSettings settings(PlacementPolicy policy, int R, int P = 0, int G = 1, int N = 1)
{
    PlacementSettings s;
    s.policy = policy;
    s.ranks = R;
    s.physicalExperts = P;
    s.groups = G;
    s.nodes = N;
    return s;
}
} // namespace

int main()
{
    constexpr int L = 58, E = 256, k = 8;
    constexpr std::int64_t T = 1'000'000;
    std::mt19937_64 rng(42);
    std::lognormal_distribution<double> skew(0.0, 0.8);
    std::vector<PlacementLayerInput> layers(L);
    for (int l = 0; l < L; ++l) {
        std::vector<double> w(E);
        for (double &x : w)
            x = skew(rng);
        w[std::size_t(l % E)] *= 6; // a hot expert per layer
        double sum = 0;
        for (double x : w)
            sum += x;
        layers[std::size_t(l)].name = std::to_string(l);
        layers[std::size_t(l)].assignments = double(k) * double(T);
        for (double x : w)
            layers[std::size_t(l)].load.push_back(std::floor(x / sum * double(k) * double(T)));
    }
    std::printf("placement of %d layers x %d experts from their counts (median of 7 runs):\n", L, E);
    const struct {
        const char *what;
        PlacementSettings s;
    } cases[] = {
        {"contiguous, R = 64", settings(PlacementPolicy::Contiguous, 64)},
        {"eplb global, R = 64, P = 320 (64 redundant)", settings(PlacementPolicy::Eplb, 64, 320)},
        {"eplb hierarchical, R = 64, P = 320, G = 8, N = 8", settings(PlacementPolicy::Eplb, 64, 320, 8, 8)},
        {"eplb global, R = 32, P = 288 (32 redundant)", settings(PlacementPolicy::Eplb, 32, 288)},
        {"eplb hierarchical, R = 32, P = 288, G = 8, N = 4", settings(PlacementPolicy::Eplb, 32, 288, 8, 4)},
    };
    for (const auto &c : cases) {
        ModelPlacement m;
        const double s = medianSeconds([&] { m = placeModel(c.s, layers, 1.25); });
        std::printf("  %-50s %8.2f ms  model straggler %.3f\n", c.what, s * 1e3, m.modelStraggler);
    }
    const std::string rule = placementRuleBroken(settings(PlacementPolicy::Eplb, 64, 288), E);
    std::printf("  R = 64 with 32 redundant (P = 288): refused: %s\n", rule.c_str());

    // The all-to-all of one layer over 1 M tokens, against one plain pass over them.
    LayerChoices choices;
    choices.numExperts = E;
    choices.topK = k;
    choices.valid.assign(std::size_t(T), 1);
    choices.ids.resize(std::size_t(T) * k);
    std::discrete_distribution<int> pick(layers[0].load.begin(), layers[0].load.end());
    for (std::int64_t t = 0; t < T; ++t) {
        std::int32_t *row = choices.ids.data() + t * k;
        for (int i = 0; i < k; ++i) {
            int e = pick(rng);
            while (std::find(row, row + i, e) != row + i)
                e = pick(rng);
            row[i] = e;
        }
    }
    const ExpertPlacement placement = placeExperts(settings(PlacementPolicy::Eplb, 64, 320), layers[0].load);
    AllToAll a;
    const double all = medianSeconds([&] { a = allToAll(choices, placement); });
    std::vector<std::int64_t> counts;
    const double pass = medianSeconds([&] { counts = choices.counts(); });
    std::printf("all-to-all, 1 M tokens x top-%d, R = 64, P = 320: %.1f ms (leaving share %.3f); "
                "one pass counting c[e]: %.1f ms; ratio %.2f\n",
                k, all * 1e3, a.leavingShare, pass * 1e3, all / pass);
    return 0;
}
