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
        // Not even compact (8-bit ids: 500 x 3 bytes a layer) do the three layers fit.
        const std::size_t oneCompact = LayerStore::compactBytes(dump->info().layers[0], 500, 2, 8);
        QCOMPARE(oneCompact, std::size_t(500 * 3));
        QVERIFY(!LayerStore::allFitCompact(dump->info(), 2 * oneCompact));
        const DumpAnalysis some = analyzeDump(dump, {}, {}, {}, 2 * oneCompact);
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

    // A dump whose layers fit the budget only compact: none kept by the first pass,
    // every layer kept compact by keepCompact and answering as the passes do; a pass
    // asked for is widened and held as a pass while the budget allows, the older ones
    // made compact again.
    void layersThatFitOnlyCompactAreKeptCompact()
    {
        test::TempDump file(test::uiFixture(500, 8, 2, 4));
        const auto dump = std::make_shared<const RoutingDump>(file.path());
        const DumpAnalysis all = analyzeDump(dump, {});
        const std::size_t oneLayer = LayerStore::passBytes(dump->info().layers[0], 500, 2);
        const std::size_t oneCompact = LayerStore::compactBytes(dump->info().layers[0], 500, 2, 8);
        const std::size_t budget = 2 * oneLayer + 4 * oneCompact; // room for two passes beside the four compact layers
        QVERIFY(!LayerStore::allFit(dump->info(), budget));
        QVERIFY(LayerStore::allFitCompact(dump->info(), budget));
        const DumpAnalysis some = analyzeDump(dump, {}, {}, {}, budget);
        QVERIFY(!some.layers->inMemory(0));
        QCOMPARE(some.layers->keepCompact(), std::size_t(4));
        QCOMPARE(some.layers->keepCompact(), std::size_t(0)); // nothing left to read
        std::vector<std::size_t> order = some.layers->residentFirst();
        std::sort(order.begin(), order.end());
        QCOMPARE(order, (std::vector<std::size_t>{0, 1, 2, 3})); // each layer once, in either form
        for (std::size_t l = 0; l < 4; ++l) {
            QVERIFY(some.layers->inMemory(l));
            QVERIFY(!some.layers->resident(l));
            for (std::int64_t t : {0, 10, 499})
                QCOMPARE(some.bestExpert(l, t), all.bestExpert(l, t));
            const std::vector<std::int64_t> positions{0, 3, 250, 499};
            std::vector<std::int32_t> rows;
            some.layers->rowsAt(l, positions, [&](std::size_t, std::size_t n, const std::int32_t *ids, const std::uint8_t *) {
                rows.insert(rows.end(), ids, ids + n * 2);
            });
            const LayerChoices &theirs = all.pass(l)->choices;
            for (std::size_t j = 0; j < positions.size(); ++j)
                for (std::size_t i = 0; i < 2; ++i)
                    QCOMPARE(rows[j * 2 + i], theirs.ids[std::size_t(positions[j]) * 2 + i]);
        }
        for (std::size_t l = 0; l < 4; ++l) {
            const LayerPassPtr mine = some.pass(l), theirs = all.pass(l);
            QVERIFY(std::equal(mine->choices.ids.begin(), mine->choices.ids.end(), theirs->choices.ids.begin(),
                               theirs->choices.ids.end()));
            QVERIFY(std::equal(mine->choices.valid.begin(), mine->choices.valid.end(), theirs->choices.valid.begin(),
                               theirs->choices.valid.end()));
            QCOMPARE(mine->choicesRecorded, theirs->choicesRecorded);
            QCOMPARE(mine->hasLosses, theirs->hasLosses);
            QCOMPARE(mine->meanProb, theirs->meanProb);
            QCOMPARE(mine->routedCounts, theirs->routedCounts);
            QCOMPARE(mine->invalidTokens, theirs->invalidTokens);
            QVERIFY(some.layers->resident(l));
            for (std::size_t m = 0; m < 4; ++m)
                QVERIFY(some.layers->inMemory(m)); // passes made compact again, never dropped
        }
        // Three passes and a compact layer fill the budget: the fourth pass made the
        // least recently used, layer 0, compact by the store itself; its figures came along.
        QVERIFY(!some.layers->resident(0) && some.layers->inMemory(0));
        const LayerPassPtr again = some.pass(0), theirs = all.pass(0);
        QVERIFY(!theirs->meanProb.empty());
        QCOMPARE(again->meanProb, theirs->meanProb);
        QCOMPARE(again->hasLosses, theirs->hasLosses);
        QCOMPARE(again->choicesRecorded, theirs->choicesRecorded);
        QVERIFY(std::equal(again->choices.ids.begin(), again->choices.ids.end(), theirs->choices.ids.begin(),
                           theirs->choices.ids.end()));
    }

    // Recorded choices alone are read compact a band at a time, 8 or 16 bits an id:
    // the same rows and figures as the layer's pass.
    void recordedLayersAreReadCompactAsThePassReadsThem()
    {
        for (const int E : {8, 300}) {
            test::DumpFixture f = test::uiFixture(5000, E, 2, 2);
            std::mt19937 rng{std::uint32_t(E)};
            for (test::FixtureLayer &layer : f.layers) {
                layer.logits.clear();
                layer.topkIds.clear();
                for (int t = 0; t < 5000; ++t) {
                    const int a = int(rng() % std::uint32_t(E));
                    layer.topkIds.push_back(a);
                    layer.topkIds.push_back((a + 1 + int(rng() % std::uint32_t(E - 1))) % E);
                }
            }
            test::TempDump file(f);
            const auto dump = std::make_shared<const RoutingDump>(file.path());
            const LayerStore store(dump, std::size_t(1) << 20);
            QCOMPARE(store.keepCompact(), std::size_t(2));
            for (std::size_t l = 0; l < 2; ++l) {
                QVERIFY(store.inMemory(l) && !store.resident(l));
                const LayerPass direct = runLayerPass(*dump, l, {});
                const LayerPassPtr widened = store.pass(l);
                QVERIFY(std::equal(widened->choices.ids.begin(), widened->choices.ids.end(),
                                   direct.choices.ids.begin(), direct.choices.ids.end()));
                QVERIFY(std::equal(widened->choices.valid.begin(), widened->choices.valid.end(),
                                   direct.choices.valid.begin(), direct.choices.valid.end()));
                QCOMPARE(widened->choicesRecorded, direct.choicesRecorded);
                QCOMPARE(widened->hasLosses, direct.hasLosses);
                QCOMPARE(widened->meanProb, direct.meanProb);
                QCOMPARE(widened->choices.numExperts, E);
            }
        }
    }

    // keepCompact fills the budget, less room for two passes, and stops there: it never
    // drops a layer to make room.
    void keepingCompactStopsAtTheBudget()
    {
        test::TempDump file(test::uiFixture(500, 8, 2, 3));
        const auto dump = std::make_shared<const RoutingDump>(file.path());
        const std::size_t oneCompact = LayerStore::compactBytes(dump->info().layers[0], 500, 2, 8);
        const std::size_t oneLayer = LayerStore::passBytes(dump->info().layers[0], 500, 2);
        const DumpAnalysis some = analyzeDump(dump, {}, {}, {}, 2 * oneLayer + 2 * oneCompact); // two passes' room kept
        QCOMPARE(some.layers->keepCompact(), std::size_t(2));
        QVERIFY(some.layers->inMemory(0));
        QVERIFY(some.layers->inMemory(1));
        QVERIFY(!some.layers->inMemory(2));
        QCOMPARE(some.layers->residentFirst(), (std::vector<std::size_t>{0, 1, 2})); // in memory first, then the rest
        std::atomic<bool> cancel{true};
        QVERIFY_THROWS_EXCEPTION(Cancelled, some.layers->keepCompact(Progress({}, &cancel)));
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
