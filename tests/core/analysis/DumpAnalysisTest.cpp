// The whole-dump analysis the views show (analyzeDump), which must agree with the
// report the command line prints, and its cancel.
#include "analysis/DumpAnalysis.h"
#include "support/UiFixture.h"

#include <QTest>

#include <random>

using namespace moescope;

class DumpAnalysisTest : public QObject {
    Q_OBJECT
private slots:
    void analysisAgreesWithTheReport()
    {
        test::TempDump file(test::uiFixture(500, 8, 2, 3));
        const auto dump = std::make_shared<const RoutingDump>(file.path());
        const DumpAnalysis a = analyzeDump(dump, {});
        AnalysisRequest request;
        request.capacityFactor = effectiveCapacityFactor(dump->info(), std::nullopt);
        const DumpReport report = buildReport(*dump, request);
        QCOMPARE(a.numLayers(), std::size_t(3));
        QVERIFY(a.layers->allResident());
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
        QCOMPARE(a.bestExpert(1, 10), a.pass(1)->choices.ids[20]);
        QCOMPARE(a.textAt(0), dump->readVocab()[std::size_t(a.tokenIds[0])]);
    }

    // A dump whose layers do not all fit the budget: none kept by the first pass, each
    // read on demand with the same choices, the least recently used making room.
    void layersBeyondTheBudgetAreReadOnDemand()
    {
        test::TempDump file(test::uiFixture(500, 8, 2, 3));
        const auto dump = std::make_shared<const RoutingDump>(file.path());
        const DumpAnalysis all = analyzeDump(dump, {});
        const std::size_t oneLayer = LayerStore::passBytes(dump->info().layers[0], 500, dump->info().topK);
        QCOMPARE(oneLayer, std::size_t(500 * (2 * 4 + 1)));
        QVERIFY(!LayerStore::allFit(dump->info(), 2 * oneLayer));
        const DumpAnalysis some = analyzeDump(dump, {}, {}, {}, oneLayer + oneLayer / 2);
        QCOMPARE(some.report.layers.size(), all.report.layers.size());
        for (std::size_t l = 0; l < 3; ++l)
            QCOMPARE(some.report.layers[l].counts, all.report.layers[l].counts);
        QVERIFY(!some.layers->resident(0));
        QCOMPARE(some.bestExpert(0, 10), -1); // not in memory: the GUI thread never waits
        for (std::size_t l = 0; l < 3; ++l) {
            const LayerPassPtr p = some.pass(l);
            const LayerChoices &mine = p->choices, &theirs = all.pass(l)->choices;
            QVERIFY(std::equal(mine.ids.begin(), mine.ids.end(), theirs.ids.begin(), theirs.ids.end()));
            QVERIFY(std::equal(mine.valid.begin(), mine.valid.end(), theirs.valid.begin(), theirs.valid.end()));
            QVERIFY(some.layers->resident(l));
            if (l > 0)
                QVERIFY(!some.layers->resident(l - 1)); // one layer fits: the older one went
            QCOMPARE(some.bestExpert(l, 10), all.bestExpert(l, 10));
        }
        // A pass handed out outlives its eviction.
        const LayerPassPtr held = some.pass(0);
        some.pass(1);
        QVERIFY(!some.layers->resident(0));
        QCOMPARE(held->choices.numPositions(), std::int64_t(500));
    }

    // A window of positions: the same rows as the whole pass, whether the layer is in
    // memory, recorded (read for the range alone) or routed from its logits.
    void slicesAreThePassesRows()
    {
        test::DumpFixture f = test::uiFixture(500, 8, 2, 3);
        std::mt19937 rng(11);
        for (std::size_t l = 1; l < 3; ++l) { // layer 0: logits only; 1: choices only; 2: both
            test::FixtureLayer &layer = f.layers[l];
            layer.topkIds.clear();
            for (int t = 0; t < 500; ++t) {
                const int a = int(rng() % 8), b = (a + 1 + int(rng() % 7)) % 8;
                layer.topkIds.push_back(a);
                layer.topkIds.push_back(b);
            }
            if (l == 1)
                layer.logits.clear();
        }
        test::TempDump file(f);
        const auto dump = std::make_shared<const RoutingDump>(file.path());
        const DumpAnalysis all = analyzeDump(dump, {});
        const std::size_t oneLayer = LayerStore::passBytes(dump->info().layers[0], 500, dump->info().topK);
        const DumpAnalysis some = analyzeDump(dump, {}, {}, {}, oneLayer + oneLayer / 2);
        for (std::size_t l = 0; l < 3; ++l) {
            const LayerChoices &whole = all.pass(l)->choices;
            for (const auto &[begin, count] : {std::pair<std::int64_t, std::int64_t>{0, 500}, {166, 167}, {499, 1}, {7, 0}}) {
                for (const DumpAnalysis *a : {&all, &some}) {
                    const bool wasResident = a->layers->resident(l) != nullptr;
                    const LayerChoices c = a->layers->slice(l, begin, count);
                    QCOMPARE(c.numPositions(), count);
                    QCOMPARE(c.topK, 2);
                    QVERIFY(std::equal(c.ids.begin(), c.ids.end(), whole.ids.begin() + begin * 2));
                    QVERIFY(std::equal(c.valid.begin(), c.valid.end(), whole.valid.begin() + begin));
                    if (l == 1 && !wasResident) // recorded: read for the range, nothing kept
                        QVERIFY(!a->layers->resident(l));
                }
            }
        }
        QVERIFY_THROWS_EXCEPTION(std::out_of_range, some.layers->slice(1, 400, 101));
    }

    void analysisIsCancellable()
    {
        test::TempDump file(test::uiFixture(500, 8, 2, 3));
        const auto dump = std::make_shared<const RoutingDump>(file.path());
        std::atomic<bool> cancel{true};
        QVERIFY_THROWS_EXCEPTION(Cancelled, analyzeDump(dump, {}, Progress({}, &cancel)));
    }
};

QTEST_GUILESS_MAIN(DumpAnalysisTest)
#include "DumpAnalysisTest.moc"
