// Every metric of routing.md against values worked out by hand.
#include "routing/RowRouter.h"
#include "stats/CapacityDrops.h"
#include "stats/ExpertPairs.h"
#include "stats/ExpertProfile.h"
#include "stats/LabelShares.h"
#include "stats/LoadMetrics.h"

#include <QtTest>

#include <algorithm>
#include <cmath>
#include <random>

using namespace moescope;

namespace {
LayerChoices choices(int experts, int k, std::vector<std::int32_t> ids, std::vector<std::uint8_t> valid = {})
{
    LayerChoices c;
    c.numExperts = experts;
    c.topK = k;
    c.ids.assign(ids.begin(), ids.end());
    if (valid.empty())
        c.valid.assign(c.ids.size() / std::size_t(k), 1);
    else
        c.valid.assign(valid.begin(), valid.end());
    return c;
}

std::vector<std::int32_t> route(const std::vector<float> &z, const RoutingRules &rules, std::vector<float> *weights = nullptr)
{
    RowScratch scratch;
    std::vector<std::int32_t> ids(rules.topK);
    std::vector<float> w(rules.topK);
    const bool ok = routeRow(z.data(), int(z.size()), rules, {ids.data(), w.data(), nullptr}, scratch);
    if (!ok)
        return {};
    if (weights)
        *weights = w;
    return ids;
}
} // namespace

class MetricsTest : public QObject {
    Q_OBJECT
private slots:
    void load()
    {
        // E = 4, k = 1, T = 8, c = [4, 2, 2, 0]: m = 2, u = [.5, .25, .25, 0].
        const LoadMetrics m = computeLoad({4, 2, 2, 0}, 1, 8, 1.25);
        QCOMPARE(m.meanLoad, 2.0);
        QCOMPARE(m.share, (std::vector<double>{0.5, 0.25, 0.25, 0.0}));
        QCOMPARE(m.hot, std::vector<int>{0});   // 4 > 2.5
        QCOMPARE(m.cold, std::vector<int>{3});  // 0 < 0.2
        QCOMPARE(m.cv, std::sqrt(2.0) / 2.0);   // std of [2, 0, 0, -2] is sqrt(2)
        QCOMPARE(m.maxVio, 1.0);                // (4 - 2) / 2
        QCOMPARE(m.entropy, 0.75);              // (.5 ln 2 + .5 ln 4) / ln 4
    }

    void hotAndColdBoundaries()
    {
        // m = 10: hot needs c > 12.5 (CF 1.25), cold needs c < 1.
        const LoadMetrics m = computeLoad({13, 12, 1, 0, 24}, 2, 25, 1.25);
        QCOMPARE(m.meanLoad, 10.0);
        QCOMPARE(m.hot, (std::vector<int>{0, 4}));
        QCOMPARE(m.cold, std::vector<int>{3});
        // Another capacity factor moves the hot line.
        QCOMPARE(computeLoad({13, 12, 1, 0, 24}, 2, 25, 1.1).hot, (std::vector<int>{0, 1, 4}));
    }

    void balancedAndEmpty()
    {
        const LoadMetrics m = computeLoad({3, 3, 3}, 1, 9, 1.25);
        QCOMPARE(m.cv, 0.0);
        QCOMPARE(m.maxVio, 0.0);
        QCOMPARE(m.entropy, 1.0);
        const LoadMetrics none = computeLoad({0, 0}, 1, 0, 1.25);
        QVERIFY(std::isnan(none.cv) && std::isnan(none.entropy));
    }

    void losses()
    {
        // lb = E * sum (c/T) P = 4 * (.5*.4 + .25*.3 + .25*.2) = 1.3
        QCOMPARE(loadBalancingLoss({4, 2, 2, 0}, 8, {0.4, 0.3, 0.2, 0.1}), 1.3);
        // Balanced top-k router: lb = k.
        QCOMPARE(loadBalancingLoss({4, 4, 4, 4}, 8, {0.25, 0.25, 0.25, 0.25}), 2.0);
        // z-loss term of logits [0, 0] is (ln 2)^2; softmax P is [.5, .5].
        std::vector<double> probSum(2, 0.0);
        double z = 0;
        const std::vector<float> row = {0.0f, 0.0f};
        addLossTerms(row.data(), 2, false, probSum.data(), z);
        QCOMPARE(z, std::log(2.0) * std::log(2.0));
        QCOMPARE(probSum, (std::vector<double>{0.5, 0.5}));
        // Probabilities as input: added as they are, no z term.
        double z2 = 0;
        const std::vector<float> probs = {0.25f, 0.75f};
        addLossTerms(probs.data(), 2, true, probSum.data(), z2);
        QCOMPARE(probSum, (std::vector<double>{0.75, 1.25}));
        QCOMPARE(z2, 0.0);
    }

    void tieGoesToLowerId()
    {
        RoutingRules rules;
        rules.topK = 2;
        QCOMPARE(route({1, 3, 0, 3}, rules), (std::vector<std::int32_t>{1, 3}));
        QCOMPARE(route({1, 1, 0, 1}, rules), (std::vector<std::int32_t>{0, 1}));
        rules.topK = 3;
        QCOMPARE(route({2, 2, 2, 2}, rules), (std::vector<std::int32_t>{0, 1, 2}));
    }

    void gateWeights()
    {
        RoutingRules rules;
        rules.topK = 2;
        std::vector<float> w;
        // softmax of [ln 1, ln 2, ln 5] = [.125, .25, .625]; chosen 2, 1.
        const std::vector<float> z = {0.0f, float(std::log(2.0)), float(std::log(5.0))};
        QCOMPARE(route(z, rules, &w), (std::vector<std::int32_t>{2, 1}));
        QVERIFY(std::abs(w[0] - 0.625f / 0.875f) < 1e-6f && std::abs(w[1] - 0.25f / 0.875f) < 1e-6f);
        rules.normalizeTopK = false;
        rules.routedScalingFactor = 2.0;
        route(z, rules, &w);
        QVERIFY(std::abs(w[0] - 1.25f) < 1e-6f && std::abs(w[1] - 0.5f) < 1e-6f);
    }

    void biasChoosesButDoesNotWeigh()
    {
        RoutingRules rules;
        rules.topK = 1;
        rules.scoring = Scoring::Sigmoid;
        rules.expertBias = {0.0, 0.5};
        std::vector<float> w;
        // sigmoid(1) = .731 vs sigmoid(0) + .5 = 1.0: the bias picks expert 1 ...
        QCOMPARE(route({1.0f, 0.0f}, rules, &w), std::vector<std::int32_t>{1});
        // ... and the weight is its own p (normalised over one: 1).
        QCOMPARE(w[0], 1.0f);
        rules.normalizeTopK = false;
        route({1.0f, 0.0f}, rules, &w);
        QCOMPARE(w[0], 0.5f);
    }

    void groupLimited()
    {
        RoutingRules rules;
        rules.topK = 2;
        rules.scoring = Scoring::Sigmoid;
        // Groups {0,1} and {2,3}: sums .731+.731 vs .881+.047; only the best group.
        const std::vector<float> z = {1.0f, 1.0f, 2.0f, -3.0f};
        QCOMPARE(route(z, rules), (std::vector<std::int32_t>{2, 0}));
        rules.numGroups = 2;
        rules.topKGroups = 1;
        QCOMPARE(route(z, rules), (std::vector<std::int32_t>{0, 1}));
    }

    void invalidRow()
    {
        RoutingRules rules;
        QVERIFY(route({1.0f, NAN}, rules).empty());
        QVERIFY(route({INFINITY, 0.0f}, rules).empty());
        QVERIFY(!route({1.0f, 0.0f}, rules).empty());
    }

    void capacityTokenOrderFillsSlotZeroFirst()
    {
        // E = 3, k = 2, CF = 1: C = ceil(2 * 3 / 3) = 2. Slot 0: t0, t1 fill expert 0,
        // t2 is dropped; slot 1 all fit.
        const LayerChoices c = choices(3, 2, {0, 1, 0, 2, 0, 1});
        const DropReport r = simulateCapacity(c, {0, 3}, {1.0, DropPolicy::TokenOrder, CapacityGroup::Dump});
        QCOMPARE(r.capacity, 2);
        QCOMPARE(r.dropped, 1);
        QCOMPARE(r.droppedFraction, 1.0 / 6.0);
        QCOMPARE(r.fullyDroppedFraction, 0.0);
        QCOMPARE(r.droppedPerExpert, (std::vector<std::int64_t>{1, 0, 0}));
        QCOMPARE(r.dropsByPosition[6], 1); // t2 sits at 2/3 of its sequence
    }

    void capacityScorePriorityDropsTheWeakest()
    {
        LayerChoices c = choices(3, 2, {0, 1, 0, 2, 0, 1});
        c.gateProbs = {0.5f, 0.4f, 0.6f, 0.3f, 0.9f, 0.05f};
        const DropReport r = simulateCapacity(c, {0, 3}, {1.0, DropPolicy::ScorePriority, CapacityGroup::Dump});
        QCOMPARE(r.dropped, 1);
        QCOMPARE(r.dropsByPosition[0], 1); // now t0 (p = .5) loses, not t2
    }

    void fullyDropped()
    {
        // E = 2, k = 2, CF = .5: C = ceil(1.5) = 2; t2 loses both slots.
        const LayerChoices c = choices(2, 2, {0, 1, 0, 1, 0, 1});
        const DropReport r = simulateCapacity(c, {0, 3}, {0.5, DropPolicy::TokenOrder, CapacityGroup::Dump});
        QCOMPARE(r.dropped, 2);
        QCOMPARE(r.fullyDropped, 1);
        QCOMPARE(r.fullyDroppedFraction, 1.0 / 3.0);
        QCOMPARE(r.stragglerFactor, 1.0);
    }

    void capacityPerSequence()
    {
        const LayerChoices c = choices(2, 1, {0, 0, 1, 1});
        const std::vector<std::int64_t> offsets = {0, 2, 4};
        QCOMPARE(simulateCapacity(c, offsets, {1.0, DropPolicy::TokenOrder, CapacityGroup::Dump}).dropped, 0);
        const DropReport perSeq = simulateCapacity(c, offsets, {1.0, DropPolicy::TokenOrder, CapacityGroup::Sequence});
        QCOMPARE(perSeq.capacity, 1);
        QCOMPARE(perSeq.droppedFraction, 0.5);
        const DropReport none = simulateCapacity(c, offsets, {1.0, DropPolicy::None, CapacityGroup::Dump});
        QCOMPARE(none.dropped, 0);
        QCOMPARE(none.stragglerFactor, 1.0);
    }

    void invalidTokensAreLeftOut()
    {
        // Token 1 is invalid: T = 3 valid tokens, C = ceil(1 * 3 / 2) = 2.
        const LayerChoices c = choices(2, 1, {0, 0, 0, 0}, {1, 0, 1, 1});
        QCOMPARE(c.validTokens(), 3);
        QCOMPARE(c.counts(), (std::vector<std::int64_t>{3, 0}));
        const DropReport r = simulateCapacity(c, {0, 4}, {1.0, DropPolicy::TokenOrder, CapacityGroup::Dump});
        QCOMPARE(r.dropped, 1);
        QCOMPARE(r.droppedFraction, 1.0 / 3.0);
    }

    void countsComeWithTheDrops_data()
    {
        QTest::addColumn<int>("E");
        QTest::addColumn<int>("k");
        QTest::newRow("E 6, top-1") << 6 << 1;
        QTest::newRow("E 6, top-2") << 6 << 2;
        QTest::newRow("E 9, top-3") << 9 << 3;
        QTest::newRow("E 256, top-8") << 256 << 8; // the vector check for repeats
        QTest::newRow("E 12, top-8") << 12 << 8;   // repeats in most rows
    }

    // simulateDrops hands back c[e] (a repeated expert once per row, invalid rows left
    // out) under every policy and grouping, and its drops do not change for it.
    void countsComeWithTheDrops()
    {
        QFETCH(int, E);
        QFETCH(int, k);
        const int T = 3000;
        std::mt19937 rng(std::uint32_t(E * 10 + k));
        std::vector<std::int32_t> ids(std::size_t(T * k));
        std::vector<std::uint8_t> valid(std::size_t(T), 1);
        for (int t = 0; t < T; ++t) {
            for (int i = 0; i < k; ++i) // skewed, so that the hot experts drop
                ids[std::size_t(t * k + i)] = std::int32_t(std::pow(double(rng() % 1000) / 1000.0, 2.0) * E);
            if (t % 13 == 4 && k >= 2) // the first choice named twice
                ids[std::size_t(t * k + k - 1)] = ids[std::size_t(t * k)];
            valid[std::size_t(t)] = t % 17 != 6;
        }
        LayerChoices c = choices(E, k, ids, valid);
        c.gateProbs.resize(c.ids.size());
        for (float &p : c.gateProbs)
            p = float(rng() % 1000) / 1000.0f;
        const std::vector<std::int64_t> want = c.counts();
        const std::vector<std::int64_t> offsets = {0, 700, 701, 2400, T};
        for (const DropPolicy policy : {DropPolicy::TokenOrder, DropPolicy::ScorePriority, DropPolicy::None})
            for (const CapacityGroup group : {CapacityGroup::Dump, CapacityGroup::Sequence}) {
                const CapacityRequest request{1.0, policy, group};
                std::vector<std::int64_t> counted;
                const DropReport with = simulateDrops(c, offsets, request, &counted);
                const DropReport without = simulateDrops(c, offsets, request);
                QCOMPARE(counted, want);
                QCOMPARE(with.dropped, without.dropped);
                QCOMPARE(with.fullyDropped, without.fullyDropped);
                QCOMPARE(with.droppedPerExpert, without.droppedPerExpert);
                QCOMPARE(with.dropsByPosition, without.dropsByPosition);
                if (policy != DropPolicy::None)
                    QVERIFY(with.dropped > 0);
            }
    }

    void capacityRounding()
    {
        QCOMPARE(expertCapacity(1.25, 2, 100, 8), 32);  // 31.25 up
        QCOMPARE(expertCapacity(1.0, 1, 8, 4), 2);      // exact stays
        QCOMPARE(expertCapacity(2.0, 1, 1, 64), 1);
    }

    void profile()
    {
        // ids [5 5 7 5 7 9], expert 0 gets t0 t1 t4 t5: c0 = 4, T = 6.
        const LayerChoices c = choices(2, 1, {0, 0, 1, 1, 0, 0});
        const ExpertProfile p = expertProfile(c, {5, 5, 7, 5, 7, 9}, 0);
        QCOMPARE(p.routed, 4);
        QCOMPARE(p.tokens.size(), std::size_t(3));
        QCOMPARE(p.tokens[0].id, 5);
        QCOMPARE(p.tokens[0].count, 2);
        QCOMPARE(p.tokens[0].share, 2.0 / 3.0);
        QCOMPARE(p.tokens[0].lift, 1.0);      // (2/4) / (3/6)
        QCOMPARE(p.tokens[1].id, 7);          // count 1, lower id first
        QCOMPARE(p.tokens[1].lift, 0.75);     // (1/4) / (2/6)
        QCOMPARE(p.tokens[2].id, 9);
        QCOMPARE(p.tokens[2].share, 1.0);
        QCOMPARE(p.tokens[2].lift, 1.5);      // (1/4) / (1/6)
        // Reverse: token 7 goes to expert 0 once and expert 1 once.
        const auto where = routingOfToken(c, {5, 5, 7, 5, 7, 9}, 7);
        QCOMPARE(where.size(), std::size_t(2));
        QCOMPARE(where[0].share, 0.5);
    }

    // k = 2 with an invalid token and a repeated id in one row, worked out from the
    // definition: share = n[v, e] / occurrences of v, lift = (n[v, e] / c[e]) / (occ v / T).
    void profileAtTopTwo()
    {
        // t:   0      1      2      3        4      5
        // ids  {0,1}  {1,2}  {0,2}  {1,1}    {2,0}  {0,1} (t5 invalid)
        // v    5      7      5      7        9      5
        const LayerChoices c = choices(3, 2, {0, 1, 1, 2, 0, 2, 1, 1, 2, 0, 0, 1}, {1, 1, 1, 1, 1, 0});
        const std::vector<std::int64_t> v = {5, 7, 5, 7, 9, 5};
        // T = 5 valid; c = {3, 3, 3}; occurrences: 5 twice, 7 twice, 9 once.
        QCOMPARE(c.counts(), (std::vector<std::int64_t>{3, 3, 3}));
        const ExpertProfile p1 = expertProfile(c, v, 1); // expert 1 gets t0 (5), t1 (7), t3 (7, once)
        QCOMPARE(p1.routed, 3);
        QCOMPARE(p1.tokens.size(), std::size_t(2));
        QCOMPARE(p1.tokens[0].id, 7);
        QCOMPARE(p1.tokens[0].count, 2);
        QCOMPARE(p1.tokens[0].share, 2.0 / 2.0);
        QCOMPARE(p1.tokens[0].lift, (2.0 / 3.0) / (2.0 / 5.0));
        QCOMPARE(p1.tokens[1].id, 5);
        QCOMPARE(p1.tokens[1].share, 1.0 / 2.0);
        QCOMPARE(p1.tokens[1].lift, (1.0 / 3.0) / (2.0 / 5.0));

        // Token 5 goes to 0 twice (t0, t2), to 1 and 2 once each; by count, then expert.
        const auto where = routingOfToken(c, v, 5);
        QCOMPARE(where.size(), std::size_t(3));
        QCOMPARE(where[0].id, 0);
        QCOMPARE(where[0].count, 2);
        QCOMPARE(where[0].share, 1.0);
        QCOMPARE(where[0].lift, (2.0 / 3.0) / (2.0 / 5.0));
        QCOMPARE(where[1].id, 1);
        QCOMPARE(where[2].id, 2);
        QCOMPARE(where[2].lift, (1.0 / 3.0) / (2.0 / 5.0));

        // Several ids in one scan: the same cells, experts ascending, an absent id empty,
        // an id given twice answered once.
        const auto many = routingOfTokens(c, v, {9, 5, 42, 9});
        QCOMPARE(many.size(), std::size_t(4));
        QCOMPARE(many[0].size(), std::size_t(2)); // 9 at t4: experts 0 and 2
        QCOMPARE(many[0][0].id, 0);
        QCOMPARE(many[0][0].share, 1.0);
        QCOMPARE(many[0][0].lift, (1.0 / 3.0) / (1.0 / 5.0));
        QCOMPARE(many[0][1].id, 2);
        QCOMPARE(many[1].size(), std::size_t(3));
        for (const TokenShare &s : many[1]) {
            const auto same = std::find_if(where.begin(), where.end(), [&](const TokenShare &w) { return w.id == s.id; });
            QVERIFY(same != where.end());
            QCOMPARE(s.count, same->count);
            QCOMPARE(s.share, same->share);
            QCOMPARE(s.lift, same->lift);
        }
        QVERIFY(many[2].empty());
        QVERIFY(many[3].empty());

        const TokenShare cell = tokenShare(7, 2, 4, 8, 20);
        QCOMPARE(cell.share, 0.5);
        QCOMPARE(cell.lift, (2.0 / 8.0) / (4.0 / 20.0));
    }

    void coActivationAndTransitions()
    {
        const LayerChoices a = choices(3, 2, {0, 1, 1, 2, 0, 1});
        const auto co = coActivation(a);
        QCOMPARE(co[0 * 3 + 1], 2);
        QCOMPARE(co[1 * 3 + 0], 2);
        QCOMPARE(co[1 * 3 + 2], 1);
        QCOMPARE(co[1 * 3 + 1], 3); // diagonal: c[1]
        const LayerChoices b = choices(3, 2, {2, 0, 2, 1, 0, 1});
        const auto m = layerTransitions(a, b);
        QCOMPARE(m[0 * 3 + 2], 1); // t0: best 0 -> 2
        QCOMPARE(m[1 * 3 + 2], 1); // t1: 1 -> 2
        QCOMPARE(m[0 * 3 + 0], 1); // t2: 0 -> 0
    }

    // The shares the pairs view shows: A[e1, e2] / c[e1] for co-activation (the
    // diagonal left out), M[e1, e2] / (tokens whose best expert is e1) for transitions.
    void pairShares()
    {
        const LayerChoices a = choices(3, 2, {0, 1, 1, 2, 0, 1});
        ExpertPairCounts co;
        co.kind = PairKind::CoActivation;
        co.numExperts = 3;
        co.setCounts(coActivation(a));
        QCOMPARE(co.rowTotal(0), 2); // c[0]: t0, t2
        QCOMPARE(co.rowTotal(1), 3);
        QCOMPARE(co.rowTotal(2), 1);
        QCOMPARE(co.share(1, 0), 2.0 / 3.0);
        QCOMPARE(co.share(1, 2), 1.0 / 3.0);
        QCOMPARE(co.share(2, 1), 1.0);
        QCOMPARE(co.share(0, 2), 0.0);
        QVERIFY(std::isnan(co.share(1, 1)));
        QCOMPARE(co.uniformShare(2), 1.0 / 2.0); // (k - 1) / (E - 1)

        const LayerChoices b = choices(3, 2, {2, 0, 2, 1, 0, 1});
        ExpertPairCounts m;
        m.kind = PairKind::Transitions;
        m.numExperts = 3;
        m.setCounts(layerTransitions(a, b));
        QCOMPARE(m.rowTotal(0), 2); // best expert 0 at t0 and t2
        QCOMPARE(m.rowTotal(1), 1);
        QCOMPARE(m.rowTotal(2), 0);
        QCOMPARE(m.share(0, 2), 0.5);
        QCOMPARE(m.share(0, 0), 0.5);
        QCOMPARE(m.share(1, 2), 1.0);
        QVERIFY(std::isnan(m.share(2, 0))); // no token: no share
        QCOMPARE(m.uniformShare(2), 1.0 / 3.0);

        // Counting in pieces adds up to the whole.
        std::vector<std::int64_t> pieces(9, 0);
        addLayerTransitions(a, b, 0, 1, pieces);
        addLayerTransitions(a, b, 1, 3, pieces);
        QCOMPARE(pieces, layerTransitions(a, b));
    }

    void domainShares()
    {
        const LayerChoices c = choices(2, 1, {0, 0, 1, 0, 1, 1});
        const auto shares = labelShares(c, {0, 2, 4, 6}, {"python", "english", "python"});
        // python pools t0 t1 (expert 0) with t4 t5 (expert 1); english has t2 -> 1, t3 -> 0.
        QCOMPARE(shares.at("python"), (std::vector<double>{0.5, 0.5}));
        QCOMPARE(shares.at("english"), (std::vector<double>{0.5, 0.5}));
        const auto skew = labelShares(choices(2, 1, {0, 0, 1, 1}), {0, 2, 4}, {"python", "english"});
        QCOMPARE(skew.at("python"), (std::vector<double>{1.0, 0.0}));
        QCOMPARE(skew.at("english"), (std::vector<double>{0.0, 1.0}));
    }
};

QTEST_GUILESS_MAIN(MetricsTest)
#include "MetricsTest.moc"
