// The core/analysis pieces added for the views: the routing map's binning, the gate
// weights of one token, and the whole-dump analysis (which must agree with the
// report the command line prints).
#include "support/UiFixture.h"
#include "analysis/DumpAnalysis.h"
#include "analysis/RoutingWindow.h"
#include "analysis/TokenGates.h"
#include "routing/RowRouter.h"

#include <QTest>

#include <cmath>

using namespace moescope;

namespace {
LayerChoices choices(int experts, int topK, std::vector<std::int32_t> ids, std::vector<std::uint8_t> valid)
{
    LayerChoices c;
    c.numExperts = experts;
    c.topK = topK;
    c.ids = std::move(ids);
    c.valid = std::move(valid);
    return c;
}
} // namespace

class AnalysisAdditionsTest : public QObject {
    Q_OBJECT
private slots:
    void windowOneColumnPerToken()
    {
        const LayerChoices c = choices(4, 2, {0, 1, 2, 3, 1, 0, 3, 2}, {1, 1, 0, 1});
        const RoutingWindow w = binRoutingWindow({&c}, {0, 4, 100, 0});
        QCOMPARE(w.columns, 4); // never more columns than tokens
        QCOMPARE(w.expertAt(0, 0), 0);
        QCOMPARE(w.expertAt(0, 1), 2);
        QCOMPARE(w.expertAt(0, 2), -1); // invalid token
        QCOMPARE(w.expertAt(0, 3), 3);
        // Highlighting expert 0: only token 0 chose it (token 2, which lists it, is invalid).
        QCOMPARE(int(w.highlightAt(0, 0)), 255);
        QCOMPARE(int(w.highlightAt(0, 1)), 0);
        QCOMPARE(int(w.highlightAt(0, 2)), 0);
        QCOMPARE(int(w.highlightAt(0, 3)), 0);
        const RoutingWindow second = binRoutingWindow({&c}, {0, 4, 100, 1});
        QCOMPARE(int(second.highlightAt(0, 0)), 255); // token 0 chose 1 in slot 1
    }

    void windowBinsTakeTheMostFrequentExpert()
    {
        // 6 tokens, k = 1, in 2 bins of 3: [2, 2, 1] and [0, 3, 3]; ties go to the lower id.
        const LayerChoices c = choices(4, 1, {2, 2, 1, 0, 3, 3}, {1, 1, 1, 1, 1, 1});
        const LayerChoices tie = choices(4, 1, {3, 1, 3, 1, 0, 0}, {1, 1, 1, 1, 1, 1});
        const RoutingWindow w = binRoutingWindow({&c, &tie}, {0, 6, 2, 3});
        QCOMPARE(w.columns, 2);
        QCOMPARE(w.layers, 2);
        QCOMPARE(w.first(1), 3);
        QCOMPARE(w.expertAt(0, 0), 2);
        QCOMPARE(w.expertAt(0, 1), 3);
        QCOMPARE(int(w.highlightAt(0, 1)), 170); // 2 of 3 chose expert 3
        QCOMPARE(w.expertAt(1, 0), 3);           // 3 twice, 1 once
        QCOMPARE(w.expertAt(1, 1), 0);           // 1 once, 0 twice
        const RoutingWindow sub = binRoutingWindow({&tie}, {1, 5, 1, -1});
        QCOMPARE(sub.expertAt(0, 0), 1);         // [1, 3, 1, 0]
        QVERIFY_THROWS_EXCEPTION(std::invalid_argument, binRoutingWindow({&c}, {0, 7, 2, -1}));
    }

    void windowIsCancellable()
    {
        const LayerChoices c = choices(2, 1, {0, 1}, {1, 1});
        std::atomic<bool> cancel{true};
        QVERIFY_THROWS_EXCEPTION(Cancelled, binRoutingWindow({&c}, {0, 2, 2, -1}, Progress({}, &cancel)));
    }

    void gatesFromRecordedWeights()
    {
        test::DumpFixture f = test::uiFixture(40, 4, 2, 1, false);
        auto &layer = f.layers[0];
        for (int t = 0; t < 40; ++t) {
            layer.topkIds.push_back(t % 4);
            layer.topkIds.push_back((t + 1) % 4);
            layer.topkWeights.push_back(0.75f);
            layer.topkWeights.push_back(0.25f);
        }
        test::TempDump file(f);
        const RoutingDump dump(file.path());
        const TokenGates g = tokenGates(dump, 0, 6);
        QVERIFY(g.recorded && g.weightsRecorded);
        QCOMPARE(g.experts, (std::vector<std::int32_t>{2, 3}));
        QCOMPARE(g.weights, (std::vector<float>{0.75f, 0.25f}));
    }

    void gatesOfRecordedChoicesFromLogits()
    {
        test::DumpFixture f = test::uiFixture(40, 4, 2, 1, false);
        for (int t = 0; t < 40; ++t) {
            f.layers[0].topkIds.push_back(3);
            f.layers[0].topkIds.push_back(0);
        }
        test::TempDump file(f);
        const RoutingDump dump(file.path());
        const TokenGates g = tokenGates(dump, 0, 5);
        QVERIFY(g.recorded && !g.weightsRecorded);
        QCOMPARE(g.experts, (std::vector<std::int32_t>{3, 0}));
        // softmax over the row, renormalised over the two recorded experts
        const float *z = f.layers[0].logits.data() + 5 * 4;
        const double p3 = std::exp(double(z[3])), p0 = std::exp(double(z[0]));
        QVERIFY(std::abs(g.weights[0] - p3 / (p3 + p0)) < 1e-5);
        QVERIFY(std::abs(g.weights[0] + g.weights[1] - 1.0) < 1e-5);
    }

    void gatesRoutedFromLogits()
    {
        const test::DumpFixture f = test::uiFixture(40, 4, 2, 1, false);
        test::TempDump file(f);
        const RoutingDump dump(file.path());
        const TokenGates g = tokenGates(dump, 0, 9);
        QVERIFY(!g.recorded);
        std::int32_t ids[2];
        float weights[2];
        RowScratch scratch;
        QVERIFY(routeRow(f.layers[0].logits.data() + 9 * 4, 4, dump.info().routingRules(0), {ids, weights, nullptr}, scratch));
        QCOMPARE(g.experts, (std::vector<std::int32_t>{ids[0], ids[1]}));
        QCOMPARE(g.weights, (std::vector<float>{weights[0], weights[1]}));
        QVERIFY_THROWS_EXCEPTION(std::out_of_range, tokenGates(dump, 0, 40));
    }

    void analysisAgreesWithTheReport()
    {
        test::TempDump file(test::uiFixture(500, 8, 2, 3));
        const RoutingDump dump(file.path());
        const DumpAnalysis a = analyzeDump(dump, {});
        AnalysisRequest request;
        request.capacityFactor = effectiveCapacityFactor(dump.info(), std::nullopt);
        const DumpReport report = buildReport(dump, request);
        QCOMPARE(a.passes.size(), std::size_t(3));
        QCOMPARE(a.report.layers.size(), report.layers.size());
        for (std::size_t l = 0; l < 3; ++l) {
            QCOMPARE(a.report.layers[l].counts, report.layers[l].counts);
            QCOMPARE(a.report.layers[l].load.cv, report.layers[l].load.cv);
            QCOMPARE(a.report.layers[l].drops.dropped, report.layers[l].drops.dropped);
            QCOMPARE(*a.report.layers[l].lbLoss, *report.layers[l].lbLoss);
        }
        QCOMPARE(a.tokenIds.size(), std::size_t(500));
        QVERIFY(a.training.has_value());
        QCOMPARE(a.training->numRecords(), std::size_t(5));
        QCOMPARE(a.sequenceOf(0), 0);
        QCOMPARE(a.sequenceOf(165), 0);
        QCOMPARE(a.sequenceOf(166), 1); // offsets 0, 166, 333, 500
        QCOMPARE(a.sequenceOf(499), 2);
        QCOMPARE(a.bestExpert(1, 10), a.passes[1].choices.ids[20]);
        QCOMPARE(a.textAt(0), dump.readVocab()[std::size_t(a.tokenIds[0])]);
    }

    void analysisIsCancellable()
    {
        test::TempDump file(test::uiFixture(500, 8, 2, 3));
        const RoutingDump dump(file.path());
        std::atomic<bool> cancel{true};
        QVERIFY_THROWS_EXCEPTION(Cancelled, analyzeDump(dump, {}, Progress({}, &cancel)));
    }
};

QTEST_GUILESS_MAIN(AnalysisAdditionsTest)
#include "AnalysisAdditionsTest.moc"
