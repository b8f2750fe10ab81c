// The Megatron tokens-per-expert importer on logs written the way
// activation_logging.py writes them (support/MegatronFixture.h): local counts become
// global ones by the rank's expert-parallel slice, summed over microbatches into
// /training and over the whole log into each layer's counts.
#include "io/OpenDump.h"
#include "io/RunLog.h"
#include "support/MegatronFixture.h"
#include "core/import/ImportTestSupport.h"

#include <QtTest>

#include <random>

using namespace moescope;
using namespace moescope::test;

namespace {

constexpr int kRanks = 4, kEp = 2, kLocal = 3, kE = kEp * kLocal;
const std::vector<std::int64_t> kIters = {10, 20};
const std::vector<std::string> kNames = {"decoder.0", "decoder.1", "mtp.0.1"};

std::vector<TpeLine> makeLog(unsigned seed)
{
    std::mt19937 rng(seed);
    std::uniform_int_distribution<int> count(0, 50);
    std::vector<TpeLine> lines;
    for (std::int64_t iter : kIters)
        for (int rank = 0; rank < kRanks; ++rank)
            for (std::size_t l = 0; l < kNames.size(); ++l) {
                TpeLine line;
                line.rank = rank;
                line.iter = iter;
                line.block = l < 2 ? "decoder" : "mtp";
                line.mtpIdx = l < 2 ? -1 : 0;
                line.layer = l < 2 ? std::int64_t(l) : 1;
                for (int mb = 0; mb < 2; ++mb) {
                    std::vector<std::int64_t> row(kLocal);
                    for (auto &c : row)
                        c = count(rng);
                    line.tpe.push_back(row);
                }
                lines.push_back(line);
            }
    return lines;
}

} // namespace

class MegatronTpeTest : public QObject {
    Q_OBJECT

private slots:
    void importsGlobalCounts()
    {
        QTemporaryDir save;
        QVERIFY(QDir(save.path()).mkdir("tokens_per_expert"));
        const std::vector<TpeLine> lines = makeLog(3);
        writeTpeLog((save.path() + "/tokens_per_expert").toStdString(), lines);
        QCOMPARE(QString::fromStdString(import::detectImportFormat(save.path().toStdString()).name),
                 QString("megatron-tpe"));

        // Independently: [iter][layer][global expert], ep_rank = rank mod EP.
        std::vector<std::int64_t> expected(kIters.size() * kNames.size() * kE, 0);
        for (const TpeLine &l : lines) {
            const std::size_t n = std::size_t(std::find(kIters.begin(), kIters.end(), l.iter) - kIters.begin());
            const std::size_t layer = l.block == "mtp" ? 2 : std::size_t(l.layer);
            for (const auto &mb : l.tpe)
                for (int e = 0; e < kLocal; ++e)
                    expected[(n * kNames.size() + layer) * kE + std::size_t((l.rank % kEp) * kLocal + e)] += mb[e];
        }

        import::ImportOptions options;
        options.values["ep-size"] = std::to_string(kEp);
        options.values["top-k"] = "2";
        const QString out = save.path() + "/tpe.h5";
        runImport("megatron-tpe", save.path(), out, options);

        const auto dump = openDump(out.toStdString());
        const DumpInfo &info = dump->info();
        QCOMPARE(info.numExperts, kE);
        QCOMPARE(info.topK, 2);
        QVERIFY(!info.hasTokens);
        QVERIFY(info.hasTraining);
        QCOMPARE(info.layers.size(), kNames.size());
        for (std::size_t l = 0; l < kNames.size(); ++l) {
            QCOMPARE(QString::fromStdString(info.layers[l].name), QString::fromStdString(kNames[l]));
            QVERIFY(info.layers[l].loadOnly());
            for (int e = 0; e < kE; ++e) {
                double total = 0;
                for (std::size_t n = 0; n < kIters.size(); ++n)
                    total += double(expected[(n * kNames.size() + l) * kE + std::size_t(e)]);
                QCOMPARE(info.layers[l].storedCounts[std::size_t(e)], total);
            }
        }
        double first = 0;
        for (std::size_t n = 0; n < kIters.size(); ++n)
            for (int e = 0; e < kE; ++e)
                first += double(expected[n * kNames.size() * kE + std::size_t(e)]);
        QCOMPARE(info.numTokens, std::int64_t(first / 2 + 0.5));

        const TrainingSeries series = dump->readTraining();
        QCOMPARE(series.steps, kIters);
        QCOMPARE(series.tokensPerExpert, expected);

        RunLogReader log(out.toStdString()); // it is a run log as well
        QCOMPARE(log.numSteps(), kIters.size());
        QCOMPARE(log.info().layerNames, kNames);
        QCOMPARE(log.counts(0, kIters.size()), expected);
    }

    void refusesBadLogs()
    {
        QTemporaryDir dir;
        std::vector<TpeLine> lines = makeLog(4);
        lines[7].tpe[1].push_back(5); // rank 2's second line: one local expert too many in one microbatch
        writeTpeLog(dir.path().toStdString(), lines);
        import::ImportOptions options;
        options.values["ep-size"] = "2";
        QVERIFY(refused("megatron-tpe", dir.path(), {"rank2.jsonl", "line 2", "row 1 has 4 entries"}, options));

        QTemporaryDir wider;
        lines = makeLog(4);
        for (TpeLine &l : lines)
            if (l.rank == 3)
                for (auto &mb : l.tpe)
                    mb.push_back(1);
        writeTpeLog(wider.path().toStdString(), lines);
        QVERIFY(refused("megatron-tpe", wider.path(), {"rank3.jsonl", "line 1", "ranks disagree on E"}, options));

        // A count of 20 digits is refused by its length, before it can overflow (found
        // by fuzzing: the digits were summed first and checked after).
        QTemporaryDir huge;
        QFile rank0(huge.path() + "/rank0.jsonl");
        QVERIFY(rank0.open(QIODevice::WriteOnly));
        rank0.write("{\"iter\": 1, \"block\": \"decoder\", \"layer\": 0, \"tpe\": [[92233720368547758070, 8]]}\n");
        rank0.close();
        QVERIFY(refused("megatron-tpe", huge.path(), {"rank0.jsonl", "line 1", "integer too large"}));

        // Several ranks and no --ep-size: a usage error, not a guess.
        bool usage = false;
        try {
            runImport("megatron-tpe", wider.path(), wider.path() + "/x.h5");
        } catch (const import::ImportUsageError &e) {
            usage = QString(e.what()).contains("--ep-size");
        }
        QVERIFY(usage);
    }
};

QTEST_GUILESS_MAIN(MegatronTpeTest)
#include "MegatronTpeTest.moc"
