// The streaming pass and the per-layer report on real files: chunking, invalid
// tokens, recorded versus derived choices, probabilities, progress and cancel.
#include "analysis/AnalysisPipeline.h"
#include "analysis/LayerPass.h"
#include "analysis/LayerStore.h"
#include "analysis/LogitsChunks.h"
#include "support/TempDump.h"
#include "support/Throws.h"

#include <QtTest>

#include <cmath>
#include <unistd.h>

using namespace moescope;
using namespace moescope::test;

namespace {
// 7 tokens, E = 3, k = 1; token 4 holds a NaN. Best experts: 0 1 2 0 - 1 1.
DumpFixture handFixture()
{
    DumpFixture f;
    f.numExperts = 3;
    f.topK = 1;
    f.tokenIds = {0, 1, 2, 0, 1, 2, 0};
    f.vocab = {"a", "b", "c"};
    f.sequenceOffsets = {0, 4, 7};
    f.sequenceLabels = {"python", "english"};
    FixtureLayer l;
    l.name = "00";
    l.index = 0;
    l.logits = {2, 0, 0, /**/ 0, 2, 0, /**/ 0, 0, 2, /**/ 1, 0, 0, /**/ NAN, 0, 0, /**/ 0, 1, 0, /**/ 0, 3, 0};
    f.layers.push_back(l);
    return f;
}
} // namespace

class AnalysisTest : public QObject {
    Q_OBJECT
private slots:
    void derivedChoicesAcrossChunks_data()
    {
        QTest::addColumn<int>("chunkRows");
        QTest::newRow("one chunk") << 0;
        QTest::newRow("chunks of 3") << 3;
        QTest::newRow("row by row") << 1;
    }

    void derivedChoicesAcrossChunks()
    {
        QFETCH(int, chunkRows);
        const TempDump file(handFixture());
        const RoutingDump dump(file.path());
        LayerPassRequest request;
        request.chunkRows = std::uint64_t(chunkRows);
        const LayerPass pass = runLayerPass(dump, 0, request);
        QCOMPARE(pass.invalidTokens, 1);
        QCOMPARE(pass.choices.validTokens(), 6);
        QCOMPARE(pass.choices.valid[4], std::uint8_t(0));
        QCOMPARE(pass.choices.counts(), (std::vector<std::int64_t>{2, 3, 1}));
        QVERIFY(!pass.choicesRecorded);
        // P[0] over the 6 valid rows, by hand.
        const double e2 = std::exp(2.0), e1 = std::exp(1.0), e3 = std::exp(3.0);
        const double p0 = (e2 / (e2 + 2) + 1 / (e2 + 2) + 1 / (e2 + 2) + e1 / (e1 + 2) + 1 / (e1 + 2) + 1 / (e3 + 2)) / 6;
        QVERIFY(std::abs(pass.meanProb[0] - p0) < 1e-6 * p0); // engines may use float exp
        const double lse2 = std::log(e2 + 2), lse1 = std::log(e1 + 2), lse3 = std::log(e3 + 2);
        const double z = (3 * lse2 * lse2 + 2 * lse1 * lse1 + lse3 * lse3) / 6;
        QVERIFY(std::abs(pass.zLoss - z) < 1e-6 * z);
    }

    // float16 stored plainly is read straight from the file (pread), chunked float16
    // is decoded: the pass must not tell them apart, whatever the chunking (reads
    // start mid-page).
    void plainAndChunkedHalvesAgree()
    {
        const DumpFixture f = randomFixture(1000, 64, 8, 1, 5);
        StorageOptions plain, chunked;
        plain.floatBits = chunked.floatBits = 16;
        chunked.chunked = true;
        const TempDump mappedFile(f, plain), readFile(f, chunked);
        const RoutingDump mapped(mappedFile.path()), read(readFile.path());
        QVERIFY(!mapped.mapHalves(0, 0, 1).empty());
        QVERIFY(read.mapHalves(0, 0, 1).empty());
        for (std::uint64_t chunkRows : {std::uint64_t(77), std::uint64_t(0)}) {
            LayerPassRequest request;
            request.chunkRows = chunkRows;
            const LayerPass a = runLayerPass(mapped, 0, request), b = runLayerPass(read, 0, request);
            QCOMPARE(a.choices.ids, b.choices.ids);
            QCOMPARE(a.routedCounts, b.routedCounts);
            QCOMPARE(a.meanProb, b.meanProb);
            QCOMPARE(a.zLoss, b.zLoss);
        }
    }

    // Another program truncating the dump while the pass reads it: a DumpError that
    // says so, not zeros taken for logits. The chunk in hand was read before; the one
    // read ahead meanwhile may have been too, so the error comes after one or two.
    void truncatedWhileReadIsAnError()
    {
        const DumpFixture f = randomFixture(4000, 64, 8, 1, 5);
        StorageOptions plain;
        plain.floatBits = 16;
        const TempDump file(f, plain);
        const RoutingDump dump(file.path());
        int chunks = 0;
        std::string message;
        try {
            forEachLogitsChunk(
                dump, 0,
                [&](const LogitsView &view, std::int64_t) {
                    if (chunks++ == 0 && ::truncate(file.path().c_str(), 4096) != 0)
                        throw std::runtime_error("cannot truncate the test file");
                    std::uint64_t sum = 0;
                    const auto *halves = static_cast<const std::uint16_t *>(view.data);
                    for (std::size_t i = 0; i < view.rows * std::size_t(view.numExperts); ++i)
                        sum += halves[i];
                    QVERIFY(sum < ~std::uint64_t(0)); // keeps the reads
                },
                {}, 500);
        } catch (const DumpError &e) {
            message = e.what();
        }
        QVERIFY2(message.find("truncated while it was being read") != std::string::npos, message.c_str());
        QVERIFY2(message.find("/layers/") != std::string::npos, message.c_str());
        QVERIFY(chunks == 1 || chunks == 2);
    }

    void reportUsesValidTokens()
    {
        const TempDump file(handFixture());
        const RoutingDump dump(file.path());
        const DumpReport report = buildReport(dump, {});
        const LayerReport &l = report.layers[0];
        QCOMPARE(l.tokens, 6);
        QCOMPARE(l.invalidTokens, 1);
        QCOMPARE(l.load.meanLoad, 2.0);
        QCOMPARE(l.load.hot, std::vector<int>{1}); // 3 > 2.5
        // Domain shares: python t0..t3 -> 0 1 2 0; english t5 t6 -> 1 1 (t4 invalid).
        QCOMPARE(l.labelShares.at("python"), (std::vector<double>{0.5, 0.25, 0.25}));
        QCOMPARE(l.labelShares.at("english"), (std::vector<double>{0.0, 1.0, 0.0}));
        // lb = E * sum (c/T) P.
        const LayerPass pass = runLayerPass(dump, 0, {});
        double lb = 0;
        for (int e = 0; e < 3; ++e)
            lb += double(l.counts[e]) / 6.0 * pass.meanProb[e];
        QCOMPARE(*l.lbLoss, 3 * lb);
        // Capacity 1.25: C = ceil(1.25 * 6 / 3) = 3: nothing dropped; at 1.0 C = 2: one drop.
        QCOMPARE(l.drops.droppedFraction, 0.0);
        AnalysisRequest tight;
        tight.capacityFactor = 1.0;
        QCOMPARE(buildReport(dump, tight).layers[0].drops.droppedFraction, 1.0 / 6.0);
    }

    void recordedChoicesWin()
    {
        DumpFixture f = handFixture();
        f.layers[0].topkIds = {2, 2, 2, 2, 2, 2, 2};
        const TempDump file(f);
        const RoutingDump dump(file.path());
        const DumpReport report = buildReport(dump, {});
        const LayerReport &l = report.layers[0];
        QVERIFY(l.choicesRecorded);
        // Recorded choices are always valid: all 7 count; the NaN row is still reported
        // and kept out of the losses.
        QCOMPARE(l.counts, (std::vector<std::int64_t>{0, 0, 7}));
        QCOMPARE(l.tokens, 7);
        QCOMPARE(l.invalidTokens, 1);
        QVERIFY(l.lbLoss.has_value());
        // Re-routing from the logits compares with the recorded choice.
        AnalysisRequest reroute;
        RoutingRules rules = dump.info().routingRules(0);
        reroute.reroute = rules;
        const DumpReport routed = buildReport(dump, reroute);
        QCOMPARE(routed.layers[0].counts, (std::vector<std::int64_t>{2, 3, 1}));
        QCOMPARE(*routed.layers[0].agreement, 1.0 / 6.0); // only t2 chose expert 2
    }

    void topkOnlyLayerHasNoLosses()
    {
        DumpFixture f = handFixture();
        f.layers[0].logits.clear();
        f.layers[0].topkIds = {0, 1, 2, 0, 1, 2, 0};
        const TempDump file(f);
        const RoutingDump dump(file.path());
        const DumpReport report = buildReport(dump, {});
        QVERIFY(!report.layers[0].lbLoss && !report.layers[0].zLoss);
        QCOMPARE(report.layers[0].invalidTokens, 0);
        QCOMPARE(report.layers[0].counts, (std::vector<std::int64_t>{3, 2, 2}));
    }

    void probabilitiesInput()
    {
        DumpFixture f = handFixture();
        f.layers[0].logits = {0.8f, 0.1f, 0.1f, 0.1f, 0.8f, 0.1f, 0.1f, 0.1f, 0.8f, 0.6f, 0.2f, 0.2f,
                              0.2f, 0.6f, 0.2f, 0.2f, 0.2f, 0.6f, 0.5f, 0.25f, 0.25f};
        const TempDump file(f);
        const RoutingDump dump(file.path());
        QVERIFY(dump.info().layers[0].logitsAreProbabilities);
        const DumpReport report = buildReport(dump, {});
        QCOMPARE(report.layers[0].counts, (std::vector<std::int64_t>{3, 2, 2}));
        QVERIFY(!report.layers[0].zLoss.has_value());
        // P is the mean of the given probabilities: P[0] = (0.8+.1+.1+.6+.2+.2+.5)/7 = 2.5/7.
        const double lb = 3 * (3.0 / 7 * 2.5 / 7 + 2.0 / 7 * 2.25 / 7 + 2.0 / 7 * 2.25 / 7);
        QVERIFY(std::abs(*report.layers[0].lbLoss - lb) < 1e-6);
    }

    void progressAndCancel()
    {
        const TempDump file(randomFixture(500, 4, 2, 2, 21));
        const RoutingDump dump(file.path());
        std::vector<double> seen;
        std::atomic<bool> cancel{false};
        Progress progress([&](double f) { seen.push_back(f); }, &cancel);
        LayerPassRequest request;
        request.chunkRows = 100;
        runLayerPass(dump, 0, request, progress);
        QVERIFY(seen.size() >= 5);
        QVERIFY(std::is_sorted(seen.begin(), seen.end()));
        QCOMPARE(seen.back(), 1.0);
        cancel = true;
        QVERIFY(throws<Cancelled>([&] { runLayerPass(dump, 0, request, progress); }));
    }

    // The pipeline hands each layer out as soon as it is ready, in layer order, with
    // the numbers of its final report.
    void pipelineStagesLayersInOrder()
    {
        const TempDump file(randomFixture(700, 8, 2, 4, 3));
        const RoutingDump dump(file.path());
        std::vector<LayerAnalysis> staged;
        std::vector<double> progressSeen;
        const Progress progress([&](double f) { progressSeen.push_back(f); }, nullptr);
        std::vector<double> progressAtDelivery;
        const AnalysisResult r = runAnalysis(dump, {}, progress, [&](const LayerAnalysis &l) {
            staged.push_back(l);
            progressAtDelivery.push_back(progressSeen.empty() ? 0.0 : progressSeen.back());
        });
        // Delivered while the pipeline still runs: a layer's statistics end while the
        // next layer is routed, so layer 0 is out when half the bar is done.
        QVERIFY(progressAtDelivery[0] <= 0.5 + 1e-9);
        QVERIFY(std::is_sorted(progressAtDelivery.begin(), progressAtDelivery.end()));
        QCOMPARE(staged.size(), std::size_t(4));
        QCOMPARE(r.report.layers.size(), std::size_t(4));
        for (std::size_t i = 0; i < staged.size(); ++i) {
            QCOMPARE(staged[i].position, i);
            QCOMPARE(staged[i].report.counts, r.report.layers[i].counts);
            QCOMPARE(staged[i].report.drops.dropped, r.report.layers[i].drops.dropped);
            // onLayer sees the layer's choices; the result keeps them only when asked.
            QVERIFY(staged[i].pass);
            QCOMPARE(staged[i].pass->choices.counts(), r.report.layers[i].counts);
            QVERIFY(!r.layers[i].pass);
        }
        QCOMPARE(progressSeen.back(), 1.0);
        // Some layers only, and the window's request keeps every pass.
        AnalysisRequest some;
        some.onlyLayers = {2, 0};
        some.keepPasses = true;
        const AnalysisResult two = runAnalysis(dump, some);
        QCOMPARE(two.layers.size(), std::size_t(2));
        QCOMPARE(two.layers[0].position, std::size_t(0));
        QCOMPARE(two.layers[1].position, std::size_t(2));
        QCOMPARE(two.layers[1].report.counts, r.report.layers[2].counts);
        QCOMPARE(two.layers[1].pass->choices.counts(), r.report.layers[2].counts);
        some.onlyLayers = {4};
        QVERIFY(throws<std::invalid_argument>([&] { runAnalysis(dump, some); }));
    }

    // The what-ifs of one request agree with each other and with the plain report:
    // the sweep at the report's capacity factor drops what the report drops; the
    // "before" of a comparison is the recorded routing's report, whether its passes
    // are handed in (the window) or read again; re-routing with the dump's own rules
    // agrees with the recorded choices the fixture routed by the same rules.
    void pipelineWhatIfsAgree()
    {
        const TempDump file(randomFixture(900, 8, 2, 3, 11));
        const auto shared = std::make_shared<const RoutingDump>(file.path());
        const RoutingDump &dump = *shared;
        const AnalysisResult recorded = runAnalysis(dump, [] {
            AnalysisRequest r;
            r.keepPasses = true;
            return r;
        }());
        const LayerStore passes(shared);
        for (const LayerAnalysis &l : recorded.layers)
            passes.adopt(l.position, *l.pass);

        AnalysisRequest request;
        request.capacityFactor = 1.0;
        request.reroute = dump.info().routingRules(0);
        request.capacitySweep = std::vector<double>{0.5, 1.0, 2.0};
        request.compareWithRecorded = true;
        request.expertChoice = true;
        request.balance = BalanceRequest{0.01, 100};
        const AnalysisResult again = runAnalysis(dump, request);
        request.recorded = &passes;
        const AnalysisResult handed = runAnalysis(dump, request);
        AnalysisRequest atOne;
        atOne.capacityFactor = 1.0;
        const DumpReport plain = buildReport(dump, atOne);
        QCOMPARE(again.layers.size(), std::size_t(3));
        for (std::size_t l = 0; l < 3; ++l) {
            const LayerAnalysis &a = again.layers[l], &h = handed.layers[l];
            QVERIFY(a.sweep && a.expertChoice && a.balance && a.recorded);
            QCOMPARE(a.sweep->dropped[1], a.report.drops.dropped);
            QCOMPARE(a.sweep->droppedFraction[1], a.report.drops.droppedFraction);
            QVERIFY(a.sweep->dropped[0] >= a.sweep->dropped[1] && a.sweep->dropped[1] >= a.sweep->dropped[2]);
            QCOMPARE(a.recorded->counts, plain.layers[l].counts);
            QCOMPARE(a.recorded->drops.dropped, plain.layers[l].drops.dropped);
            QCOMPARE(h.recorded->counts, a.recorded->counts);
            QCOMPARE(h.recorded->drops.dropped, a.recorded->drops.dropped);
            QCOMPARE(h.expertChoice->unrouted, a.expertChoice->unrouted);
            QCOMPARE(h.balance->maxVioWith, a.balance->maxVioWith);
            std::int64_t taken = 0;
            for (std::int64_t n : a.expertChoice->taken)
                taken += n;
            QCOMPARE(taken, std::int64_t(8) * a.expertChoice->capacity.front());
        }
        // Expert choice and balancing re-route: without rules the request is refused.
        AnalysisRequest noRules;
        noRules.expertChoice = true;
        QVERIFY(throws<std::invalid_argument>([&] { runAnalysis(dump, noRules); }));
    }

    void capacityFactorDefault()
    {
        DumpFixture f = handFixture();
        DumpInfo info;
        QCOMPARE(effectiveCapacityFactor(info, std::nullopt), 1.25);
        info.capacityFactor = 2.0;
        QCOMPARE(effectiveCapacityFactor(info, std::nullopt), 2.0);
        QCOMPARE(effectiveCapacityFactor(info, 1.5), 1.5);
    }
};

QTEST_GUILESS_MAIN(AnalysisTest)
#include "AnalysisTest.moc"
