// Load-only dumps (docs/dump-format.md): layers holding `counts` [E] alone, with or
// without /tokens, and the stored counts of a layer that also records choices.
#include "analysis/AnalysisPipeline.h"
#include "io/DumpError.h"
#include "io/RoutingDump.h"
#include "support/TempDump.h"
#include "support/Throws.h"

#include <QtTest>

#include <cmath>

using namespace moescope;
using namespace moescope::test;

namespace {
// E = 4, k = 2, T = 10 given as num_tokens; layer "00" integer counts, "01" float.
DumpFixture loadOnlyFixture()
{
    DumpFixture f;
    f.numExperts = 4;
    f.topK = 2;
    f.omit = {"tokens"};
    f.numberAttributes["num_tokens"] = 10;
    FixtureLayer a;
    a.name = "00";
    a.counts = {12, 6, 2, 0};
    FixtureLayer b;
    b.name = "01";
    b.floatCounts = {5.0, 5.0, 5.0, 5.0};
    f.layers = {a, b};
    return f;
}

// The plain coefficient of variation: population std of c over the mean k*T/E.
double plainCv(const std::vector<double> &c, int k, double T)
{
    const double m = k * T / double(c.size());
    double s = 0;
    for (double x : c)
        s += (x - m) * (x - m);
    return std::sqrt(s / double(c.size())) / m;
}
} // namespace

class LoadOnlyReaderTest : public QObject {
    Q_OBJECT
private slots:
    void opensWithoutTokens()
    {
        TempDump dump(loadOnlyFixture());
        RoutingDump d(dump.path());
        const DumpInfo &info = d.info();
        QVERIFY(!info.hasTokens);
        QCOMPARE(info.numTokens, std::int64_t(10));
        QCOMPARE(info.sequenceOffsets, (std::vector<std::int64_t>{0, 10}));
        QCOMPARE(info.layers.size(), std::size_t(2));
        QVERIFY(info.layers[0].loadOnly());
        QVERIFY(info.layers[1].loadOnly());
        QCOMPARE(info.layers[0].storedCounts, (std::vector<double>{12, 6, 2, 0}));
        QCOMPARE(info.layers[1].storedCounts, (std::vector<double>{5, 5, 5, 5}));
        // Token ids read as zeros, with no vocabulary.
        QCOMPARE(d.readTokenIds(0, 3), (std::vector<std::int64_t>{0, 0, 0}));
        QVERIFY(d.readVocab().empty());
    }

    void reportFromCounts()
    {
        TempDump dump(loadOnlyFixture());
        RoutingDump d(dump.path());
        AnalysisRequest request;
        request.readTokens = true;
        const DumpReport report = runAnalysis(d, request).report;
        QCOMPARE(report.layers.size(), std::size_t(2));
        const LayerReport &l = report.layers[0];
        QVERIFY(l.countsOnly);
        QCOMPARE(l.tokens, std::int64_t(10));
        QCOMPARE(l.counts, (std::vector<std::int64_t>{12, 6, 2, 0}));
        QVERIFY(std::abs(l.load.cv - plainCv({12, 6, 2, 0}, 2, 10)) < 1e-12);
        // Mean load 5: expert 0 (12 > 1.25 * 5) is hot, expert 3 (0 < 0.5) cold.
        QCOMPARE(l.load.hot, (std::vector<int>{0}));
        QCOMPARE(l.load.cold, (std::vector<int>{3}));
        QVERIFY(!l.lbLoss && !l.zLoss);
        QVERIFY(std::abs(report.layers[1].load.cv) < 1e-12);
    }

    void storedCountsBesideChoices()
    {
        DumpFixture f;
        f.numExperts = 3;
        f.topK = 1;
        f.tokenIds = {0, 1, 2, 3};
        FixtureLayer l;
        l.name = "00";
        l.topkIds = {0, 0, 1, 2};
        l.counts = {3, 1, 0}; // deliberately not what the choices count
        f.layers = {l};
        TempDump dump(f);
        RoutingDump d(dump.path());
        const LayerInfo &li = d.info().layers[0];
        QVERIFY(li.hasCounts && li.hasTopkIds && !li.loadOnly());
        QCOMPARE(li.storedCounts, (std::vector<double>{3, 1, 0}));
        // The statistics still count the choices.
        AnalysisRequest request;
        const DumpReport report = runAnalysis(d, request).report;
        QCOMPARE(report.layers[0].counts, (std::vector<std::int64_t>{2, 1, 1}));
        QVERIFY(!report.layers[0].countsOnly);
    }

    void refusesBadLoadOnly()
    {
        DumpFixture noT = loadOnlyFixture();
        noT.numberAttributes.erase("num_tokens");
        TempDump a(noT);
        QVERIFY(throws<DumpError>([&] { RoutingDump d(a.path()); }));

        DumpFixture wrongShape = loadOnlyFixture();
        wrongShape.layers[0].counts = {1, 2, 3};
        TempDump b(wrongShape);
        try {
            RoutingDump d(b.path());
            QFAIL("a counts dataset of the wrong shape was accepted");
        } catch (const DumpError &e) {
            QVERIFY2(std::string(e.what()).find("/layers/00/counts") != std::string::npos, e.what());
        }

        // Without /tokens no layer may hold per-token data.
        DumpFixture perToken = loadOnlyFixture();
        perToken.layers[1].topkIds = std::vector<std::int64_t>(20, 1);
        TempDump p(perToken);
        try {
            RoutingDump d(p.path());
            QFAIL("per-token choices without /tokens were accepted");
        } catch (const DumpError &e) {
            QVERIFY2(std::string(e.what()).find("/layers/01") != std::string::npos, e.what());
        }

        DumpFixture negative = loadOnlyFixture();
        negative.layers[0].counts = {1, -2, 3, 4};
        TempDump c(negative);
        QVERIFY(throws<DumpError>([&] { RoutingDump d(c.path()); }));
    }
};

QTEST_GUILESS_MAIN(LoadOnlyReaderTest)
#include "LoadOnlyReaderTest.moc"
