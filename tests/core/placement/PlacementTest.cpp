// Placements and their figures against plain implementations written here: planted
// loads (one expert holding half the tokens, loads with a known perfect packing) and
// the invariants (rank loads and the all-to-all sum to k * T, replicas split evenly).
#include "placement/PlacementFigures.h"
#include "stats/CapacityDrops.h"
#include "support/PlainPlacement.h"
#include "support/Throws.h"

#include <QtTest>

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>
#include <random>

using namespace moescope;

namespace {
using test::plainGlobalRankLoads;

double sum(const std::vector<double> &v) { return std::accumulate(v.begin(), v.end(), 0.0); }

PlacementSettings eplb(int R, int P, int G = 1, int N = 1)
{
    PlacementSettings s;
    s.ranks = R;
    s.policy = PlacementPolicy::Eplb;
    s.physicalExperts = P;
    s.groups = G;
    s.nodes = N;
    return s;
}

LayerChoices randomChoices(int E, int k, std::int64_t T, unsigned seed, int hotExpert = -1)
{
    std::mt19937 rng(seed);
    LayerChoices c;
    c.numExperts = E;
    c.topK = k;
    c.valid.assign(T, 1);
    for (std::int64_t t = 0; t < T; ++t) {
        std::vector<int> all(E);
        std::iota(all.begin(), all.end(), 0);
        std::shuffle(all.begin(), all.end(), rng);
        if (hotExpert >= 0 && rng() % 2 == 0) // about half the tokens pick the hot one first
            std::iter_swap(all.begin(), std::find(all.begin(), all.end(), hotExpert));
        c.ids.insert(c.ids.end(), all.begin(), all.begin() + k);
        if (t % 97 == 5)
            c.valid[t] = 0; // a few invalid tokens: out of everything
    }
    return c;
}

std::vector<double> loadsOf(const LayerChoices &c)
{
    const auto counts = c.counts();
    return {counts.begin(), counts.end()};
}
} // namespace

class PlacementTest : public QObject {
    Q_OBJECT
private slots:
    void fixedLayouts()
    {
        const std::vector<double> w = {5, 1, 7, 2, 9, 3, 4, 8};
        PlacementSettings s;
        s.ranks = 4;
        for (PlacementPolicy policy : {PlacementPolicy::Contiguous, PlacementPolicy::RoundRobin}) {
            s.policy = policy;
            const ExpertPlacement p = placeExperts(s, w);
            std::vector<double> expected(4, 0.0);
            for (int e = 0; e < 8; ++e) {
                const int rank = policy == PlacementPolicy::Contiguous ? e / 2 : e % 4;
                expected[rank] += w[e];
                QCOMPARE(p.ranksOf(e), std::vector<int>{rank});
            }
            QCOMPARE(rankLoads(p, w), expected);
            QCOMPARE(stragglerFactor(expected), *std::max_element(expected.begin(), expected.end()) / (sum(w) / 4));
        }
    }

    // 8..1 on 4 ranks, two each: the perfect packing pairs them to 9 on every rank.
    void knownOptimalPacking()
    {
        const std::vector<double> w = {3, 8, 1, 6, 5, 2, 7, 4};
        const ExpertPlacement p = placeExperts(eplb(4, 8), w);
        QCOMPARE(rankLoads(p, w), std::vector<double>(4, 9.0));
        QCOMPARE(stragglerFactor(rankLoads(p, w)), 1.0);
        // Contiguous puts 3+8 and 7+4 together: 11 / 9.
        PlacementSettings contiguous;
        contiguous.ranks = 4;
        QCOMPARE(stragglerFactor(rankLoads(placeExperts(contiguous, w), w)), 11.0 / 9.0);
    }

    // One expert holds half of all assignments: without replicas its rank is the
    // straggler whatever the placement; replicas spread it.
    void oneExpertHoldsHalf()
    {
        const int E = 16, R = 4;
        std::vector<double> w(E, 100.0);
        for (int e = 0; e < E; ++e)
            w[e] += e; // no ties
        w[5] = sum(w); // half of the total
        const double total = sum(w);
        for (PlacementPolicy policy : {PlacementPolicy::Contiguous, PlacementPolicy::RoundRobin, PlacementPolicy::Eplb}) {
            PlacementSettings s;
            s.ranks = R;
            s.policy = policy;
            const auto L = rankLoads(placeExperts(s, w), w);
            QVERIFY(stragglerFactor(L) >= 0.5 * total / (total / R) - 1e-12);
        }
        for (int P : {16, 20, 24, 32}) {
            const ExpertPlacement p = placeExperts(eplb(R, P), w);
            const auto L = rankLoads(p, w);
            const auto expected = plainGlobalRankLoads(w, P, R);
            for (int r = 0; r < R; ++r)
                QVERIFY(std::abs(L[r] - expected[r]) < 1e-9 * total);
            QVERIFY(std::abs(sum(L) - total) < 1e-9 * total);
            QCOMPARE(int(p.slotExpert.size()), P);
            QCOMPARE(std::accumulate(p.replicas.begin(), p.replicas.end(), 0), P);
        }
        // With 8 replicas of the hot expert's kind the straggler is close to even.
        QVERIFY(stragglerFactor(rankLoads(placeExperts(eplb(R, 32), w), w)) < 1.05);
    }

    // Hierarchical: groups to nodes, replicas and ranks within each node, against the
    // plain global balancer applied node by node on the groups the plain packing chose.
    void hierarchicalAgainstPlain()
    {
        const int E = 32, G = 8, N = 2, R = 8, P = 40;
        std::mt19937 rng(11);
        std::vector<double> w(E);
        for (int e = 0; e < E; ++e)
            w[e] = 1000 + double(rng() % 100000) + e * 1e-3;
        const ExpertPlacement p = placeExperts(eplb(R, P, G, N), w);
        // Groups (4 experts) to nodes: heaviest group first to the lighter node with room.
        std::vector<std::pair<double, int>> groups;
        for (int g = 0; g < G; ++g)
            groups.push_back({std::accumulate(w.begin() + g * 4, w.begin() + g * 4 + 4, 0.0), g});
        std::sort(groups.begin(), groups.end(), std::greater<>());
        std::vector<double> nodeLoad(N, 0.0);
        std::vector<std::vector<double>> nodeExperts(N);
        for (const auto &[load, g] : groups) {
            const int node = (nodeExperts[0].size() < 16 && (nodeExperts[1].size() >= 16 || nodeLoad[0] <= nodeLoad[1])) ? 0 : 1;
            nodeLoad[node] += load;
            nodeExperts[node].insert(nodeExperts[node].end(), w.begin() + g * 4, w.begin() + g * 4 + 4);
        }
        const auto L = rankLoads(p, w);
        for (int node = 0; node < N; ++node) {
            auto expected = plainGlobalRankLoads(nodeExperts[node], P / N, R / N);
            std::vector<double> got(L.begin() + node * 4, L.begin() + node * 4 + 4);
            std::sort(expected.begin(), expected.end());
            std::sort(got.begin(), got.end());
            for (int r = 0; r < 4; ++r)
                QVERIFY(std::abs(got[r] - expected[r]) < 1e-6);
        }
        // Every expert's replicas stay on its group's node.
        for (int e = 0; e < E; ++e)
            for (int rank : p.ranksOf(e))
                QCOMPARE(rank / 4, p.ranksOf(e).front() / 4);
    }

    // Replicas split an expert's load evenly: every slot carries load / replicas.
    void replicasSplitEvenly()
    {
        const std::vector<double> w = {900, 10, 20, 30, 40, 50, 60, 70};
        const ExpertPlacement p = placeExperts(eplb(4, 12), w);
        QVERIFY(p.replicas[0] > 1);
        std::vector<double> expected(4, 0.0);
        for (int slot = 0; slot < 12; ++slot)
            expected[slot / 3] += w[p.slotExpert[slot]] / p.replicas[p.slotExpert[slot]];
        QCOMPARE(rankLoads(p, w), expected);
        // The plain rule gives expert 0 all four extra slots (900 / 4 = 225 > 70
        // still), so 5 replicas.
        QCOMPARE(p.replicas[0], 5);
    }

    void allToAllAgainstPlain()
    {
        const int E = 16, k = 4, R = 4;
        const LayerChoices c = randomChoices(E, k, 1003, 3, 2);
        const std::vector<double> w = loadsOf(c);
        for (const PlacementSettings &s : {eplb(R, 16), eplb(R, 24, 4, 2), eplb(R, 20)}) {
            const ExpertPlacement p = placeExperts(s, w);
            const AllToAll a = allToAll(c, p);
            std::vector<double> V(R * R, 0.0);
            const std::int64_t T = c.numPositions();
            for (std::int64_t t = 0; t < T; ++t) {
                if (!c.valid[t])
                    continue;
                const int src = int(t * R / T);
                for (int i = 0; i < k; ++i) {
                    const int e = c.ids[t * k + i];
                    const auto ranks = p.ranksOf(e);
                    for (int d : ranks)
                        V[src * R + d] += 1.0 / double(ranks.size());
                }
            }
            double leaving = 0;
            for (int sr = 0; sr < R; ++sr)
                for (int d = 0; d < R; ++d) {
                    QVERIFY(std::abs(a.at(sr, d) - V[sr * R + d]) < 1e-9);
                    leaving += sr != d ? V[sr * R + d] : 0;
                }
            const double kT = double(k) * double(c.validTokens());
            QVERIFY(std::abs(a.total - kT) < 1e-6);
            QVERIFY(std::abs(a.leavingShare - leaving / kT) < 1e-12);
            // Column sums are the rank loads.
            const auto L = rankLoads(p, w);
            for (int d = 0; d < R; ++d) {
                double col = 0;
                for (int sr = 0; sr < R; ++sr)
                    col += a.at(sr, d);
                QVERIFY(std::abs(col - L[d]) < 1e-6);
            }
            QVERIFY(std::abs(sum(L) - kT) < 1e-6);
        }
    }

    // A row naming one expert twice counts it once; two experts on one rank count two.
    void allToAllCountsDistinctExperts()
    {
        LayerChoices c;
        c.numExperts = 4;
        c.topK = 2;
        c.ids = {0, 1, 2, 2, 3, 1, 0, 0};
        c.valid = {1, 1, 1, 1};
        PlacementSettings s;
        s.ranks = 2; // contiguous: experts 0, 1 on rank 0
        const AllToAll a = allToAll(c, placeExperts(s, {3, 2, 1, 1}));
        QCOMPARE(a.at(0, 0), 2.0); // token 0 sends two assignments to rank 0
        QCOMPARE(a.at(0, 1), 1.0); // token 1: expert 2 once
        QCOMPARE(a.at(1, 1), 1.0);
        QCOMPARE(a.at(1, 0), 2.0);
        QCOMPARE(a.total, 6.0);
        QCOMPARE(a.leavingShare, 3.0 / 6.0);
    }

    void dropsAgainstPlain()
    {
        const LayerChoices c = randomChoices(8, 2, 800, 5, 1);
        const std::vector<double> w = loadsOf(c);
        const double kT = 2.0 * double(c.validTokens());
        for (double cf : {1.0, 1.25, 2.0}) {
            CapacityRequest request;
            request.capacityFactor = cf;
            const DropReport drops = simulateCapacity(c, {0, c.numPositions()}, request);
            QCOMPARE(expertDroppedFraction(w, kT, cf), drops.droppedFraction);
            PlacementSettings s;
            s.ranks = 4;
            const auto L = rankLoads(placeExperts(s, w), w);
            double dropped = 0;
            for (double l : L)
                dropped += l > cf * kT / 4 ? l - cf * kT / 4 : 0;
            QCOMPARE(rankPooledDroppedFraction(L, kT, cf), dropped / kT);
            QVERIFY(rankPooledDroppedFraction(L, kT, cf) <= drops.droppedFraction + 1e-12);
        }
    }

    void modelStraggler()
    {
        const std::vector<std::vector<double>> layers = {{4, 2, 2, 0}, {1, 1, 1, 1}};
        QCOMPARE(modelStragglerFactor(layers), (4.0 + 1.0) / (2.0 + 1.0));
        QVERIFY(std::isnan(stragglerFactor({0, 0})));
    }

    void loadOnlyLayer()
    {
        const LayerPlacementFigures f = evaluatePlacement(eplb(2, 6), {1, 2, 3, 10}, {2, 2, 3, 9}, 16, 1.25, nullptr);
        QVERIFY(!f.allToAll);
        QCOMPARE(sum(f.rankLoad), 16.0);
        QCOMPARE(f.placement.replicas[3], 3); // planned on the first loads: 10 -> 5 -> 3.3
        auto expected = test::plainRankLoads(test::plainGlobalPlacement({1, 2, 3, 10}, 6, 2), {2, 2, 3, 9}, 2);
        auto got = f.rankLoad;
        std::sort(expected.begin(), expected.end());
        std::sort(got.begin(), got.end());
        QCOMPARE(got, expected);
    }

    void rulesBroken()
    {
        PlacementSettings s;
        s.ranks = 3;
        QVERIFY(placementRuleBroken(s, 8).find("multiple of R") != std::string::npos);
        QVERIFY(placementRuleBroken(eplb(3, 10), 8).find("P = 10") != std::string::npos);
        QVERIFY(placementRuleBroken(eplb(4, 6), 8).find("at least E") != std::string::npos);
        QVERIFY(placementRuleBroken(eplb(4, 8, 3), 8).find("G = 3") != std::string::npos);
        QVERIFY(placementRuleBroken(eplb(4, 8, 4, 3), 8).find("N = 3") != std::string::npos);
        s.ranks = 4;
        s.physicalExperts = 12;
        QVERIFY(placementRuleBroken(s, 8).find("eplb") != std::string::npos);
        QVERIFY(placementRuleBroken(eplb(4, 12, 4, 2), 8).empty());
        QVERIFY(test::throws<std::invalid_argument>([] { placeExperts(eplb(3, 8), std::vector<double>(8, 1.0)); }));
    }
};

QTEST_GUILESS_MAIN(PlacementTest)
#include "PlacementTest.moc"
