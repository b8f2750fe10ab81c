// The summary cache: a stored report comes back whole for the same dump and request,
// and never for a changed file, another request, a corrupt entry or an off cache;
// the directory stays within its bound.
#include "analysis/SummaryCache.h"
#include "io/RoutingDump.h"
#include "support/UiFixture.h"

#include <QDir>
#include <QFile>
#include <QTemporaryDir>
#include <QTest>

#include <cmath>
#include <filesystem>

using namespace moescope;

namespace {

AnalysisRequest plainRequest()
{
    AnalysisRequest r;
    r.drops.policy = DropPolicy::TokenOrder;
    return r;
}

void compareReports(const DumpReport &a, const DumpReport &b)
{
    QCOMPARE(a.tokens, b.tokens);
    QCOMPARE(a.numExperts, b.numExperts);
    QCOMPARE(a.topK, b.topK);
    QCOMPARE(a.capacityFactor, b.capacityFactor);
    QCOMPARE(a.layers.size(), b.layers.size());
    for (std::size_t l = 0; l < a.layers.size(); ++l) {
        const LayerReport &x = a.layers[l], &y = b.layers[l];
        QCOMPARE(x.position, y.position);
        QCOMPARE(x.name, y.name);
        QCOMPARE(x.index, y.index);
        QCOMPARE(x.choicesRecorded, y.choicesRecorded);
        QCOMPARE(x.countsOnly, y.countsOnly);
        QCOMPARE(x.tokens, y.tokens);
        QCOMPARE(x.invalidTokens, y.invalidTokens);
        QCOMPARE(x.counts, y.counts);
        QCOMPARE(x.load.meanLoad, y.load.meanLoad);
        QCOMPARE(x.load.share, y.load.share);
        QCOMPARE(x.load.hot, y.load.hot);
        QCOMPARE(x.load.cold, y.load.cold);
        QCOMPARE(x.load.cv, y.load.cv);
        QCOMPARE(x.load.maxVio, y.load.maxVio);
        QCOMPARE(x.load.entropy, y.load.entropy);
        QCOMPARE(x.lbLoss, y.lbLoss);
        QCOMPARE(x.zLoss, y.zLoss);
        QCOMPARE(x.drops.capacity, y.drops.capacity);
        QCOMPARE(x.drops.assignments, y.drops.assignments);
        QCOMPARE(x.drops.dropped, y.drops.dropped);
        QCOMPARE(x.drops.fullyDropped, y.drops.fullyDropped);
        QCOMPARE(x.drops.droppedFraction, y.drops.droppedFraction);
        QCOMPARE(x.drops.fullyDroppedFraction, y.drops.fullyDroppedFraction);
        QCOMPARE(x.drops.stragglerFactor, y.drops.stragglerFactor);
        QCOMPARE(x.drops.droppedPerExpert, y.drops.droppedPerExpert);
        QCOMPARE(x.drops.dropsByPosition, y.drops.dropsByPosition);
        QCOMPARE(x.labelShares, y.labelShares);
        QCOMPARE(x.agreement, y.agreement);
        QCOMPARE(x.locality.pairs, y.locality.pairs);
        QCOMPARE(x.locality.first, y.locality.first);
        QCOMPARE(x.locality.firstLoadAware, y.locality.firstLoadAware);
        QCOMPARE(x.locality.hasAny, y.locality.hasAny);
        QCOMPARE(x.locality.any, y.locality.any);
        QCOMPARE(x.locality.anyLoadAware, y.locality.anyLoadAware);
        QCOMPARE(x.locality.loadAwarePairs, y.locality.loadAwarePairs);
        QCOMPARE(x.vocabulary.has_value(), y.vocabulary.has_value());
        if (x.vocabulary) {
            QCOMPARE(x.vocabulary->ids, y.vocabulary->ids);
            QCOMPARE(x.vocabulary->topK.layer, y.vocabulary->topK.layer);
            QCOMPARE(x.vocabulary->top1.expertIds, y.vocabulary->top1.expertIds);
            QCOMPARE(x.vocabulary->topK.perExpert.size(), y.vocabulary->topK.perExpert.size());
            for (std::size_t e = 0; e < x.vocabulary->topK.perExpert.size(); ++e) // NaN for experts without ids
                QVERIFY(x.vocabulary->topK.perExpert[e] == y.vocabulary->topK.perExpert[e] ||
                        (std::isnan(x.vocabulary->topK.perExpert[e]) && std::isnan(y.vocabulary->topK.perExpert[e])));
        }
    }
}

void compareInfos(const DumpInfo &a, const DumpInfo &b)
{
    QCOMPARE(a.formatVersion, b.formatVersion);
    QCOMPARE(a.numExperts, b.numExperts);
    QCOMPARE(a.topK, b.topK);
    QCOMPARE(int(a.scoring), int(b.scoring));
    QCOMPARE(a.normalizeTopK, b.normalizeTopK);
    QCOMPARE(a.numGroups, b.numGroups);
    QCOMPARE(a.topKGroups, b.topKGroups);
    QCOMPARE(a.routedScalingFactor, b.routedScalingFactor);
    QCOMPARE(a.capacityFactor, b.capacityFactor);
    QCOMPARE(a.model, b.model);
    QCOMPARE(a.checkpoint, b.checkpoint);
    QCOMPARE(a.checkpointStep, b.checkpointStep);
    QCOMPARE(a.numTokens, b.numTokens);
    QCOMPARE(a.hasTokens, b.hasTokens);
    QCOMPARE(a.sequenceOffsets, b.sequenceOffsets);
    QCOMPARE(a.sequenceLabels, b.sequenceLabels);
    QCOMPARE(a.vocabSize, b.vocabSize);
    QCOMPARE(a.hasTraining, b.hasTraining);
    QCOMPARE(a.warnings, b.warnings);
    QCOMPARE(a.layers.size(), b.layers.size());
    for (std::size_t l = 0; l < a.layers.size(); ++l) {
        const LayerInfo &x = a.layers[l], &y = b.layers[l];
        QCOMPARE(x.name, y.name);
        QCOMPARE(x.index, y.index);
        QCOMPARE(x.hasLogits, y.hasLogits);
        QCOMPARE(x.hasTopkIds, y.hasTopkIds);
        QCOMPARE(x.hasTopkWeights, y.hasTopkWeights);
        QCOMPARE(x.hasExpertBias, y.hasExpertBias);
        QCOMPARE(int(x.logitsType), int(y.logitsType));
        QCOMPARE(x.logitsStorage, y.logitsStorage);
        QCOMPARE(x.logitsChunkRows, y.logitsChunkRows);
        QCOMPARE(x.topkIdsChunkRows, y.topkIdsChunkRows);
        QCOMPARE(x.logitsAreProbabilities, y.logitsAreProbabilities);
        QCOMPARE(x.expertBias, y.expertBias);
        QCOMPARE(x.hasCounts, y.hasCounts);
        QCOMPARE(x.storedCounts, y.storedCounts);
    }
}

std::size_t entries(const QString &dir)
{
    return std::size_t(QDir(dir).entryList({"*.summary"}, QDir::Files).size());
}

} // namespace

class SummaryCacheTest : public QObject {
    Q_OBJECT
private slots:
    void aStoredReportComesBackWhole()
    {
        QTemporaryDir cacheDir;
        test::TempDump file(test::uiFixture(600, 8, 2, 3));
        const RoutingDump dump(file.path());
        const SummaryCache cache{cacheDir.path().toStdString()};
        const AnalysisRequest request = plainRequest();
        QVERIFY(!cache.load(file.path(), request));
        const DumpReport report = buildReport(dump, request);
        QVERIFY(!report.layers.empty());
        QVERIFY(!report.layers[0].labelShares.empty()); // the fixture has labels: they travel too
        QVERIFY(report.layers[0].vocabulary.has_value());
        QVERIFY(report.layers[0].locality.pairs > 0);
        cache.store(file.path(), request, dump.info(), report);
        QCOMPARE(entries(cacheDir.path()), std::size_t(1));
        const auto back = cache.load(file.path(), request);
        QVERIFY(back.has_value());
        compareReports(back->report, report);
        QCOMPARE(back->report.file, file.path());
        compareInfos(back->info, dump.info());
        QCOMPARE(back->info.path, file.path());
    }

    // The dump's info travels with the report (a hit opens nothing), every field of
    // it: the fixture's own, and each one this fixture leaves at its default set too.
    void theDumpsInfoComesBackWhole()
    {
        QTemporaryDir cacheDir;
        test::TempDump file(test::uiFixture(300, 8, 2, 3));
        const RoutingDump dump(file.path());
        const SummaryCache cache{cacheDir.path().toStdString()};
        DumpInfo info = dump.info();
        info.formatVersion = 3;
        info.scoring = Scoring::Sigmoid;
        info.normalizeTopK = !info.normalizeTopK;
        info.numGroups = 4;
        info.topKGroups = 2;
        info.routedScalingFactor = 2.5;
        info.capacityFactor = 1.75;
        info.model = "a model \xc3\xa9";
        info.checkpoint = "ckpt-9";
        info.checkpointStep = 123456789012;
        info.hasTokens = false;
        info.sequenceLabels = {"first", "", "third with spaces"};
        info.vocabSize = 77;
        info.hasTraining = !info.hasTraining;
        info.warnings = {"one warning", "another"};
        LayerInfo &layer = info.layers.back();
        layer.index = -7;
        layer.hasExpertBias = true;
        layer.expertBias = {0.5, -0.25, 1e-9, 3.0, 0, 0, 0, 1};
        layer.hasCounts = true;
        layer.storedCounts = {1, 2, 3, 4, 5, 6, 7, 8};
        layer.logitsType = LogitsType::Float64;
        layer.logitsStorage = "chunked, deflate";
        layer.logitsChunkRows = 4096;
        layer.topkIdsChunkRows = 8192;
        layer.logitsAreProbabilities = true;
        const DumpReport report = buildReport(dump, plainRequest());
        cache.store(file.path(), plainRequest(), info, report);
        const auto back = cache.load(file.path(), plainRequest());
        QVERIFY(back.has_value());
        compareInfos(back->info, info);
        compareReports(back->report, report);
    }

    void anotherRequestOrAChangedFileMisses()
    {
        QTemporaryDir cacheDir;
        test::TempDump file(test::uiFixture(400, 8, 2, 2));
        const SummaryCache cache{cacheDir.path().toStdString()};
        AnalysisRequest request = plainRequest();
        {
            const RoutingDump dump(file.path());
            cache.store(file.path(), request, dump.info(), buildReport(dump, request));
        }
        QVERIFY(cache.load(file.path(), request));
        AnalysisRequest otherCf = request;
        otherCf.capacityFactor = 2.0;
        QVERIFY(!cache.load(file.path(), otherCf));
        AnalysisRequest otherMinCount = request;
        otherMinCount.vocabularyMinCount = 3;
        QVERIFY(!cache.load(file.path(), otherMinCount));
        AnalysisRequest otherPolicy = request;
        otherPolicy.drops.policy = DropPolicy::None;
        QVERIFY(!cache.load(file.path(), otherPolicy));
        AnalysisRequest reroute = request;
        reroute.reroute = RoutingRules{};
        QVERIFY(!cacheableRequest(reroute));
        QVERIFY(!cache.load(file.path(), reroute));

        // Same size, same bytes but a new modification time: a miss.
        const auto when = std::filesystem::last_write_time(file.path());
        std::filesystem::last_write_time(file.path(), when + std::chrono::seconds(5));
        QVERIFY(!cache.load(file.path(), request));
        std::filesystem::last_write_time(file.path(), when);
        QVERIFY(cache.load(file.path(), request));

        // One byte changed in the middle, time put back: the content hash misses.
        {
            QFile f(file.qpath());
            QVERIFY(f.open(QIODevice::ReadWrite));
            const qint64 at = f.size() / 17 * 3 + 10; // inside one of the sampled blocks
            f.seek(at);
            char byte = 0;
            f.getChar(&byte);
            f.seek(at);
            f.putChar(char(byte ^ 0x5a));
        }
        std::filesystem::last_write_time(file.path(), when);
        QVERIFY(!cache.load(file.path(), request));
    }

    void aCorruptEntryIsAMiss()
    {
        QTemporaryDir cacheDir;
        test::TempDump file(test::uiFixture(300, 8, 2, 2));
        const SummaryCache cache{cacheDir.path().toStdString()};
        const AnalysisRequest request = plainRequest();
        const RoutingDump dump(file.path());
        cache.store(file.path(), request, dump.info(), buildReport(dump, request));
        const QString entry = cacheDir.path() + "/" + QDir(cacheDir.path()).entryList({"*.summary"}).at(0);
        QFile f(entry);
        QVERIFY(f.open(QIODevice::ReadWrite));
        QVERIFY(f.resize(f.size() - 9)); // cut inside the last layer
        f.close();
        QVERIFY(!cache.load(file.path(), request));
        QVERIFY(f.open(QIODevice::WriteOnly | QIODevice::Truncate));
        f.write(QByteArray(64, '\xff')); // a length far past the end
        f.close();
        QVERIFY(!cache.load(file.path(), request));
    }

    void theDirectoryStaysWithinItsBound()
    {
        QTemporaryDir cacheDir;
        SummaryCache cache{cacheDir.path().toStdString()};
        const AnalysisRequest request = plainRequest();
        std::vector<std::unique_ptr<test::TempDump>> files;
        std::uintmax_t one = 0;
        for (int i = 0; i < 5; ++i) {
            files.push_back(std::make_unique<test::TempDump>(test::uiFixture(200 + 10 * i, 8, 2, 2)));
            const RoutingDump dump(files.back()->path());
            if (i == 0) {
                cache.store(files.back()->path(), request, dump.info(), buildReport(dump, request));
                one = std::filesystem::file_size(
                    (cacheDir.path() + "/" + QDir(cacheDir.path()).entryList({"*.summary"}).at(0)).toStdString());
                cache.maxBytes = one * 2 + one / 2; // room for two entries
                continue;
            }
            cache.store(files.back()->path(), request, dump.info(), buildReport(dump, request));
            QVERIFY(entries(cacheDir.path()) <= 2);
        }
        QCOMPARE(entries(cacheDir.path()), std::size_t(2));
        QVERIFY(cache.load(files.back()->path(), request)); // the newest stays
        QVERIFY(!cache.load(files.front()->path(), request));
    }

    void anOffCacheNeitherStoresNorLoads()
    {
        test::TempDump file(test::uiFixture(200, 8, 2, 2));
        const SummaryCache off;
        QVERIFY(!off.enabled());
        const RoutingDump dump(file.path());
        off.store(file.path(), plainRequest(), dump.info(), buildReport(dump, plainRequest()));
        QVERIFY(!off.load(file.path(), plainRequest()));
        qputenv("MOESCOPE_NO_CACHE", "1");
        QVERIFY(!SummaryCache::standard().enabled());
        qunsetenv("MOESCOPE_NO_CACHE");
        qputenv("MOESCOPE_CACHE_DIR", "/somewhere/else");
        QCOMPARE(SummaryCache::standard().directory, std::string("/somewhere/else"));
    }
};

QTEST_GUILESS_MAIN(SummaryCacheTest)
#include "SummaryCacheTest.moc"
