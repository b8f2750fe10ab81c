// The whole-dump analysis the views show (analyzeDump), which must agree with the
// report the command line prints, and its cancel.
#include "analysis/DumpAnalysis.h"
#include "support/UiFixture.h"

#include <QTest>

using namespace moescope;

class DumpAnalysisTest : public QObject {
    Q_OBJECT
private slots:
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

QTEST_GUILESS_MAIN(DumpAnalysisTest)
#include "DumpAnalysisTest.moc"
