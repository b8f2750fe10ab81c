// The collapse alert of analyses.md against a plain implementation of the rule written
// here, on random runs of counts that drift in and out of collapse.
#include "analysis/CollapseAlert.h"

#include <QtTest>

#include <cmath>
#include <random>

using namespace moescope;

namespace {

struct PlainAlert {
    bool raised = false;
    std::size_t layer = 0;
    std::int64_t since = 0, at = 0;
    std::string condition;
};

// The rule read literally: at every step, for every layer, the two conditions; an
// alert at the first step where some layer held one of them at each of the last W
// steps, naming the layer with the longest streak (lowest position on a tie) and the
// condition that held all along (cold first), else the one holding at that step.
PlainAlert plainAlert(const std::vector<std::vector<std::vector<std::int64_t>>> &run, int W)
{
    const std::size_t L = run[0].size(), E = run[0][0].size();
    const int needed = std::max(1, int(std::ceil(0.1 * double(E) - 1e-9)));
    std::vector<std::vector<int>> cold(run.size(), std::vector<int>(L)), vio(run.size(), std::vector<int>(L));
    for (std::size_t s = 0; s < run.size(); ++s)
        for (std::size_t l = 0; l < L; ++l) {
            double sum = 0, top = 0;
            for (auto c : run[s][l]) {
                sum += double(c);
                top = std::max(top, double(c));
            }
            const double m = sum / double(E);
            int n = 0;
            for (auto c : run[s][l])
                n += double(c) < 0.1 * m;
            cold[s][l] = m > 0 && n >= needed;
            vio[s][l] = m > 0 && (top - m) / m > 2;
        }
    for (std::size_t s = 0; s < run.size(); ++s) {
        PlainAlert best;
        int bestLen = 0;
        for (std::size_t l = 0; l < L; ++l) {
            int len = 0;
            while (len <= int(s) && (cold[s - std::size_t(len)][l] || vio[s - std::size_t(len)][l]))
                ++len;
            if (len < W || len <= bestLen)
                continue;
            bool allCold = true, allVio = true;
            for (int i = 0; i < len; ++i) {
                allCold = allCold && cold[s - std::size_t(i)][l];
                allVio = allVio && vio[s - std::size_t(i)][l];
            }
            bestLen = len;
            best = {true, l, std::int64_t(s - std::size_t(len) + 1) * 10, std::int64_t(s) * 10,
                    allCold ? "cold" : allVio ? "max_vio" : cold[s][l] ? "cold" : "max_vio"};
        }
        if (best.raised)
            return best;
    }
    return {};
}

} // namespace

class CollapseAlertTest : public QObject {
    Q_OBJECT

private slots:
    void oneLayerFigures()
    {
        // 10 experts: one cold expert is not enough (ceil(0.1 * 10) = 1 is), MaxVio 0.
        const std::vector<std::int64_t> even(10, 50);
        LayerStepHealth h = layerStepHealth(even.data(), 10, 1.25);
        QCOMPARE(h.cv, 0.0);
        QVERIFY(!h.collapsing());
        // 20 experts: ceil(2) = 2 cold experts needed; one is not a collapse.
        std::vector<std::int64_t> c(20, 100);
        c[0] = 5;
        h = layerStepHealth(c.data(), 20, 1.25);
        QCOMPARE(h.cold, 1);
        QVERIFY(!h.coldCollapse);
        c[1] = 5;
        QVERIFY(layerStepHealth(c.data(), 20, 1.25).coldCollapse);
        // MaxVio exactly 2 is not over 2: counts {3m, 0, 0, ...} for E = 3: m = 1.
        const std::vector<std::int64_t> three{3, 0, 0};
        h = layerStepHealth(three.data(), 3, 1.25);
        QCOMPARE(h.maxVio, 2.0);
        QVERIFY(!h.maxVioCollapse);
        QVERIFY(h.coldCollapse);
        QCOMPARE(h.hot, 1);
    }

    void agreesWithThePlainRuleOnRandomRuns()
    {
        std::mt19937 rng(7);
        for (int trial = 0; trial < 300; ++trial) {
            const std::size_t L = 1 + rng() % 4, E = 2 + rng() % 30, N = 1 + rng() % 40;
            const int W = 1 + int(rng() % 5);
            std::vector<std::vector<std::vector<std::int64_t>>> run(N, std::vector<std::vector<std::int64_t>>(L));
            std::vector<int> skew(L, 0);
            for (std::size_t s = 0; s < N; ++s)
                for (std::size_t l = 0; l < L; ++l) {
                    // A random walk of how collapsed each layer is.
                    skew[l] = std::clamp(skew[l] + int(rng() % 3) - 1, 0, 4);
                    for (std::size_t e = 0; e < E; ++e) {
                        std::int64_t v = 20 + std::int64_t(rng() % 20);
                        if (skew[l] >= 2 && e == 0)
                            v *= std::int64_t(E) * std::int64_t(skew[l]) / 4;
                        if (skew[l] >= 3 && e + 1 == E)
                            v = std::int64_t(rng() % 2);
                        run[s][l].push_back(v);
                    }
                }
            const PlainAlert want = plainAlert(run, W);
            CollapseWatch watch(L, E, W);
            std::optional<CollapseAlert> got;
            for (std::size_t s = 0; s < N && !got; ++s) {
                std::vector<std::int64_t> flat;
                for (auto &layer : run[s])
                    flat.insert(flat.end(), layer.begin(), layer.end());
                watch.add(std::int64_t(s) * 10, flat.data());
                got = watch.alert();
            }
            QCOMPARE(bool(got), want.raised);
            if (got) {
                QCOMPARE(got->layer, want.layer);
                QCOMPARE(got->sinceStep, want.since);
                QCOMPARE(got->step, want.at);
                QCOMPARE(got->condition, want.condition);
            }
        }
    }

    void worstLayerOfAStep()
    {
        // Layer 1 is the more uneven (MaxVio 1.6) but layer 2, with one cold expert of
        // four, is collapsing: the collapsing one is the worst.
        const std::vector<std::int64_t> counts{10, 10, 10, 10,   30, 10, 3, 3,   20, 20, 20, 0};
        CollapseWatch watch(3, 4);
        const StepSummary s = watch.add(5, counts.data());
        QCOMPARE(s.worstLayer, std::size_t(2));
        QVERIFY(s.worst.coldCollapse);
        QCOMPARE(s.worst.cold, 1);
        QCOMPARE(s.worst.maxVio, (20.0 - 15.0) / 15.0);
    }
};

QTEST_GUILESS_MAIN(CollapseAlertTest)
#include "CollapseAlertTest.moc"
