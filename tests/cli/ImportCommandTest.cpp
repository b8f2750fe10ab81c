// `moescope import` as a user runs it: the format detected or named, the dump it
// writes opened by `info`, warnings on stderr, and the exit codes of docs/cli.md (2 for
// bad usage, 1 for a refused source, with no output file left behind).
#include "support/MegatronFixture.h"
#include "support/RunMoescope.h"

#include <QDir>
#include <QFile>
#include <QJsonArray>
#include <QTemporaryDir>
#include <QtTest>

using namespace moescope::test;

namespace {

// Two ranks, one step, two decoder layers, E = 4 known only from the ids (no logits).
std::vector<TraceCall> smallTrace()
{
    std::vector<TraceCall> calls;
    for (int rank : {0, 1})
        for (int layer : {0, 1}) {
            TraceCall c;
            c.step = 7;
            c.rank = rank;
            c.layer = layer;
            c.topIndices = {{0, 1}, {1, 3}, {rank, 2 + layer}};
            calls.push_back(c);
        }
    return calls;
}

} // namespace

class ImportCommandTest : public QObject {
    Q_OBJECT

private slots:
    void importsADetectedTrace()
    {
        QTemporaryDir dir;
        writeRouterTrace(dir.path().toStdString(), smallTrace());
        const QString out = dir.path() + "/trace.h5";
        const Run r = runMoescope({"import", dir.path(), "-o", out});
        QVERIFY2(r.exitCode == 0, r.err.constData());
        QVERIFY(r.out.isEmpty());
        QVERIFY2(r.err.contains("E = 4") && r.err.contains("--num-experts"), r.err.constData()); // the warning
        const Run info = runMoescope({"info", out, "--json"});
        QCOMPARE(info.exitCode, 0);
        const QJsonObject j = info.json();
        QCOMPARE(j["num_experts"].toInt(), 4);
        QCOMPARE(j["top_k"].toInt(), 2);
        QCOMPARE(j["tokens"].toInt(), 6);
        QCOMPARE(j["layers"].toArray().size(), 2);

        const Run named = runMoescope({"import", dir.path(), "--format", "megatron", "--num-experts", "16", "--step", "7",
                                       "-o", dir.path() + "/named.h5"});
        QVERIFY2(named.exitCode == 0, named.err.constData());
        QVERIFY(!named.err.contains("warning"));
        QCOMPARE(runMoescope({"info", dir.path() + "/named.h5", "--json"}).json()["num_experts"].toInt(), 16);
    }

    // A tokens-per-expert log under SAVE/tokens_per_expert: detected from SAVE, a
    // load-only dump whose stats report each layer's counts (global ids by R mod EP).
    void importsATokensPerExpertLog()
    {
        QTemporaryDir save;
        QVERIFY(QDir(save.path()).mkpath("tokens_per_expert"));
        std::vector<TpeLine> lines;
        for (int rank = 0; rank < 2; ++rank)
            for (std::int64_t iter : {10, 20}) {
                TpeLine l;
                l.rank = rank;
                l.iter = iter;
                l.tpe = {{1 + rank, 2, 3}, {4, 5, 6 * rank}};
                lines.push_back(l);
            }
        writeTpeLog((save.path() + "/tokens_per_expert").toStdString(), lines);
        const QString out = save.path() + "/tpe.h5";
        const Run r = runMoescope({"import", save.path(), "--ep-size", "2", "--top-k", "1", "-o", out});
        QVERIFY2(r.exitCode == 0, r.err.constData());
        const Run stats = runMoescope({"stats", out, "--json"});
        QCOMPARE(stats.exitCode, 0);
        const QJsonArray counts = stats.json()["layers"].toArray()[0].toObject()["counts"].toArray();
        // Rank 0 holds experts 0-2, rank 1 experts 3-5; two iterations of two microbatches.
        const QList<int> expected = {2 * (1 + 4), 2 * (2 + 5), 2 * (3 + 0), 2 * (2 + 4), 2 * (2 + 5), 2 * (3 + 6)};
        QCOMPARE(counts.size(), expected.size());
        for (int e = 0; e < expected.size(); ++e)
            QCOMPARE(counts[e].toDouble(), double(expected[e]));
    }

    void badUsageExitsTwo_data()
    {
        QTest::addColumn<QStringList>("args");
        QTest::addColumn<QString>("message");
        QTest::newRow("no output") << QStringList{"import", "@DIR"} << "-o OUT.h5 is required";
        QTest::newRow("unknown format") << QStringList{"import", "@DIR", "--format", "csv", "-o", "@DIR/x.h5"}
                                        << "--format must be one of megatron";
        QTest::newRow("option of another format")
            << QStringList{"import", "@DIR", "--ep-size", "2", "-o", "@DIR/x.h5"} << "--ep-size does not apply";
        QTest::newRow("bad expert count") << QStringList{"import", "@DIR", "--num-experts", "0", "-o", "@DIR/x.h5"}
                                          << "--num-experts must be 1 to 4096";
        QTest::newRow("bad step") << QStringList{"import", "@DIR", "--step", "x", "-o", "@DIR/x.h5"}
                                  << "--step must be an integer";
    }

    void badUsageExitsTwo()
    {
        QFETCH(QStringList, args);
        QFETCH(QString, message);
        QTemporaryDir dir;
        writeRouterTrace(dir.path().toStdString(), smallTrace());
        args.replaceInStrings("@DIR", dir.path());
        const Run r = runMoescope(args);
        QCOMPARE(r.exitCode, 2);
        QVERIFY2(QString(r.err).contains(message), r.err.constData());
        QVERIFY(!QFile::exists(dir.path() + "/x.h5"));
    }

    void refusedSourceExitsOne()
    {
        QTemporaryDir empty;
        const Run unknown = runMoescope({"import", empty.path(), "-o", empty.path() + "/x.h5"});
        QCOMPARE(unknown.exitCode, 1);
        QVERIFY2(unknown.err.contains(empty.path().toUtf8()) && unknown.err.contains("--format"), unknown.err.constData());

        QTemporaryDir dir;
        std::vector<TraceCall> calls = smallTrace();
        calls[3].topIndices[2][1] = 9; // rank 1's second line
        writeRouterTrace(dir.path().toStdString(), calls);
        const Run r = runMoescope({"import", dir.path(), "--num-experts", "8", "-o", dir.path() + "/x.h5"});
        QCOMPARE(r.exitCode, 1);
        QVERIFY2(r.err.contains("router_trace_rank1.jsonl: line 2") && r.err.contains("expert 9"), r.err.constData());
        QCOMPARE(QDir(dir.path()).entryList({"*.h5", ".*"}, QDir::Files | QDir::Hidden), QStringList{});
    }
};

QTEST_GUILESS_MAIN(ImportCommandTest)
#include "ImportCommandTest.moc"
