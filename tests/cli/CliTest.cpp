// The headless commands run as a user runs them: the real binary, no display, JSON
// parsed back, exit codes and messages checked.
#include "support/DamagedDump.h"
#include "support/RunMoescope.h"
#include "support/TempDump.h"

#include <QtTest>

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QTemporaryDir>

#include <cmath>

using namespace moescope::test;

namespace {
// 6 tokens, E = 3, k = 1, logits pick experts 0 0 1 2 0 1 with two sequences.
DumpFixture smallFixture()
{
    DumpFixture f;
    f.numExperts = 3;
    f.topK = 1;
    f.tokenIds = {0, 1, 0, 2, 0, 1};
    f.vocab = {"def", "(", "über"};
    f.sequenceOffsets = {0, 3, 6};
    f.sequenceLabels = {"python", "german"};
    f.stringAttributes = {{"model", "tiny"}, {"checkpoint", "step-9"}};
    FixtureLayer l;
    l.name = "07";
    l.index = 7;
    l.logits = {2, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 2, 2, 0, 0, 0, 2, 0}; // rows sum to 2: logits, not probabilities
    f.layers.push_back(l);
    FixtureLayer r;
    r.name = "03";
    r.index = 3;
    r.topkIds = {2, 2, 2, 2, 1, 0};
    f.layers.push_back(r);
    return f;
}
} // namespace

class CliTest : public QObject {
    Q_OBJECT
private slots:
    void initTestCase() { QVERIFY2(QFile::exists(qEnvironmentVariable("MOESCOPE_BIN")), "MOESCOPE_BIN not set"); }

    void info()
    {
        const TempDump file(smallFixture());
        const Run r = runMoescope({"info", file.qpath(), "--json"});
        QCOMPARE(r.exitCode, 0);
        const QJsonObject j = r.json();
        QCOMPARE(j["tokens"].toInt(), 6);
        QCOMPARE(j["num_experts"].toInt(), 3);
        QCOMPARE(j["top_k"].toInt(), 1);
        QCOMPARE(j["model"].toString(), QString("tiny"));
        const QJsonArray layers = j["layers"].toArray();
        QCOMPARE(layers.size(), 2);
        QCOMPARE(layers[0].toObject()["name"].toString(), QString("03")); // ordered by index
        QCOMPARE(layers[0].toObject()["topk_ids"].toBool(), true);
        QVERIFY(layers[0].toObject()["logits"].isNull());
        QCOMPARE(layers[1].toObject()["logits"].toString(), QString("float32"));
        QCOMPARE(layers[1].toObject()["logits_storage"].toString(), QString("contiguous"));
        QVERIFY(layers[0].toObject()["logits_storage"].isNull());
        const Run text = runMoescope({"info", file.qpath()});
        QCOMPARE(text.exitCode, 0);
        QVERIFY(text.out.contains("E=3, k=1"));
    }

    void stats()
    {
        const TempDump file(smallFixture());
        const Run r = runMoescope({"stats", file.qpath(), "--json"});
        QCOMPARE(r.exitCode, 0);
        const QJsonObject j = r.json();
        QCOMPARE(j["capacity_factor"].toDouble(), 1.25);
        const QJsonArray layers = j["layers"].toArray();
        const QJsonObject recorded = layers[0].toObject();
        QCOMPARE(recorded["position"].toInt(), 0);
        QCOMPARE(recorded["index"].toInt(), 3);
        QCOMPARE(recorded["counts"].toArray(), (QJsonArray{1, 1, 4}));
        QCOMPARE(recorded["hot"].toArray(), QJsonArray{2});  // 4 > 1.25 * 2
        QVERIFY(recorded["lb_loss"].isNull() && recorded["z_loss"].isNull());
        // C = ceil(1.25 * 6 / 3) = 3: one of expert 2's four is dropped.
        QCOMPARE(recorded["dropped_fraction"].toDouble(), 1.0 / 6.0);
        QCOMPARE(recorded["fully_dropped_fraction"].toDouble(), 1.0 / 6.0);
        QCOMPARE(recorded["label_shares"].toObject()["python"].toArray(), (QJsonArray{0.0, 0.0, 1.0}));
        const QJsonObject derived = layers[1].toObject();
        QCOMPARE(derived["counts"].toArray(), (QJsonArray{3, 2, 1}));
        QCOMPARE(derived["invalid_tokens"].toInt(), 0);
        QVERIFY(derived["lb_loss"].toDouble() > 0.9 && derived["z_loss"].toDouble() > 0);
        QCOMPARE(derived["entropy"].toDouble(), -(0.5 * std::log(0.5) + (1.0 / 3) * std::log(1.0 / 3) +
                                                  (1.0 / 6) * std::log(1.0 / 6)) / std::log(3.0));
        // A capacity factor changes hot experts and drops.
        const QJsonObject loose = runMoescope({"stats", file.qpath(), "--json", "--capacity-factor", "3"}).json();
        QCOMPARE(loose["capacity_factor"].toDouble(), 3.0);
        QCOMPARE(loose["layers"].toArray()[0].toObject()["dropped_fraction"].toDouble(), 0.0);
    }

    // A layer's stored counts (the recorder's summary) are checked against its recorded
    // choices: agreeing, nothing is said; disagreeing, a warning names the layer and an
    // expert, also when the report comes from the summary cache.
    void storedCountsAreChecked()
    {
        DumpFixture agreeing = smallFixture();
        agreeing.layers[1].counts = {1, 1, 4}; // topk_ids 2 2 2 2 1 0
        const TempDump good(agreeing);
        const Run ok = runMoescope({"stats", good.qpath(), "--json"});
        QCOMPARE(ok.exitCode, 0);
        QVERIFY2(!ok.err.contains("counts"), ok.err.constData());
        DumpFixture wrong = smallFixture();
        wrong.layers[1].counts = {1, 2, 3};
        const TempDump bad(wrong);
        for (int run = 0; run < 2; ++run) { // computed, then from the cache
            const Run r = runMoescope({"stats", bad.qpath(), "--json"});
            QCOMPARE(r.exitCode, 0);
            QVERIFY2(r.err.contains("/layers/03/counts disagrees with the layer's topk_ids at 2 of 3 experts "
                                    "(expert 1: stored 2, counted 1)"),
                     r.err.constData());
            QCOMPARE(r.json()["layers"].toArray()[0].toObject()["counts"].toArray(), (QJsonArray{1, 1, 4}));
        }
        DumpFixture shapeless = smallFixture();
        shapeless.layers[1].counts = {4, 2};
        const TempDump refused(shapeless);
        const Run r = runMoescope({"stats", refused.qpath()});
        QCOMPARE(r.exitCode, 1);
        QVERIFY2(r.err.contains("/layers/03/counts") && r.err.contains("must have shape [E] = [3]"), r.err.constData());
    }

    // The second `stats` of a dump comes from the summary cache: the same bytes out;
    // --no-cache computes afresh; a changed dump is computed afresh too.
    void statsFromTheSummaryCache()
    {
        QTemporaryDir cacheDir;
        qputenv("MOESCOPE_CACHE_DIR", cacheDir.path().toUtf8());
        const TempDump file(smallFixture());
        const Run first = runMoescope({"stats", file.qpath(), "--json"});
        QCOMPARE(first.exitCode, 0);
        QCOMPARE(QDir(cacheDir.path()).entryList({"*.summary"}).size(), 1);
        const Run again = runMoescope({"stats", file.qpath(), "--json"});
        QCOMPARE(again.out, first.out);
        QCOMPARE(runMoescope({"stats", file.qpath()}).out, runMoescope({"stats", file.qpath(), "--no-cache"}).out);
        QCOMPARE(runMoescope({"stats", file.qpath(), "--json", "--no-cache"}).out, first.out);
        // A hit opens nothing: without the preflight helper the answer is the same,
        // and --no-cache, which must open the dump, says the helper is missing.
        qputenv("MOESCOPE_PREFLIGHT_PROGRAM", QByteArray("/nonexistent/moescope-preflight"));
        const Run unopened = runMoescope({"stats", file.qpath(), "--json"});
        const Run opening = runMoescope({"stats", file.qpath(), "--json", "--no-cache"});
        qunsetenv("MOESCOPE_PREFLIGHT_PROGRAM");
        QCOMPARE(unopened.exitCode, 0);
        QCOMPARE(unopened.out, first.out);
        QVERIFY(opening.exitCode != 0);
        // Another capacity factor is another entry.
        runMoescope({"stats", file.qpath(), "--json", "--capacity-factor", "3"});
        QCOMPARE(QDir(cacheDir.path()).entryList({"*.summary"}).size(), 2);
        // The same path rewritten with other choices: never the old answer.
        DumpFixture changed = smallFixture();
        changed.layers[1].topkIds = {2, 2, 2, 2, 2, 1};
        changed.write(file.path());
        const QJsonObject fresh = runMoescope({"stats", file.qpath(), "--json"}).json();
        QCOMPARE(fresh["layers"].toArray()[0].toObject()["counts"].toArray(), (QJsonArray{0, 1, 5}));
        qunsetenv("MOESCOPE_CACHE_DIR");
    }

    void profile()
    {
        const TempDump file(smallFixture());
        const Run r = runMoescope({"profile", file.qpath(), "--layer", "1", "--expert", "0", "--json"});
        QCOMPARE(r.exitCode, 0);
        const QJsonObject j = r.json();
        QCOMPARE(j["layer"].toInt(), 1);
        QCOMPARE(j["expert"].toInt(), 0);
        QCOMPARE(j["routed"].toInt(), 3);
        const QJsonArray tokens = j["tokens"].toArray();
        QCOMPARE(tokens.size(), 2);
        // "def" (id 0) occurs 3 times, twice at expert 0: share 2/3, lift (2/3)/(3/6).
        QCOMPARE(tokens[0].toObject()["text"].toString(), QString("def"));
        QCOMPARE(tokens[0].toObject()["count"].toInt(), 2);
        QCOMPARE(tokens[0].toObject()["share"].toDouble(), 2.0 / 3.0);
        QCOMPARE(tokens[0].toObject()["lift"].toDouble(), (2.0 / 3.0) / 0.5);
        QCOMPARE(tokens[1].toObject()["text"].toString(), QString("("));
        const Run top = runMoescope({"profile", file.qpath(), "--layer", "1", "--expert", "0", "--top", "1", "--json"});
        QCOMPARE(top.json()["tokens"].toArray().size(), 1);
    }

    void route()
    {
        const TempDump file(smallFixture());
        const Run r = runMoescope({"route", file.qpath(), "--device", "cpu", "--top-k", "2", "--drop", "none", "--json"});
        QCOMPARE(r.exitCode, 0);
        const QJsonObject j = r.json();
        QCOMPARE(j["top_k"].toInt(), 2);
        const QJsonArray layers = j["layers"].toArray();
        QCOMPARE(layers.size(), 1); // only layers with logits
        QCOMPARE(layers[0].toObject()["name"].toString(), QString("07"));
        QCOMPARE(layers[0].toObject()["dropped_fraction"].toDouble(), 0.0);
        int total = 0;
        for (const auto &c : layers[0].toObject()["counts"].toArray())
            total += c.toInt();
        QCOMPARE(total, 12);
    }

    void badArguments_data()
    {
        QTest::addColumn<QStringList>("args");
        QTest::addColumn<QString>("message");
        QTest::newRow("no file") << QStringList{"stats"} << "missing FILE";
        QTest::newRow("unknown option") << QStringList{"stats", "@FILE", "--frobnicate"} << "unknown option --frobnicate";
        QTest::newRow("bad number") << QStringList{"stats", "@FILE", "--capacity-factor", "lots"} << "needs a number";
        QTest::newRow("negative CF") << QStringList{"stats", "@FILE", "--capacity-factor", "-1"} << "must be positive";
        QTest::newRow("no layer") << QStringList{"profile", "@FILE", "--expert", "0"} << "--layer L is required";
        QTest::newRow("layer out of range") << QStringList{"profile", "@FILE", "--layer", "2", "--expert", "0"} << "--layer must be 0 to 1";
        QTest::newRow("expert out of range") << QStringList{"profile", "@FILE", "--layer", "0", "--expert", "3"} << "--expert must be 0 to 2";
        QTest::newRow("bad drop") << QStringList{"route", "@FILE", "--drop", "random"} << "--drop must be one of";
        QTest::newRow("bad top-k") << QStringList{"route", "@FILE", "--top-k", "4"} << "--top-k must be 1 to E = 3";
    }

    void badArguments()
    {
        QFETCH(QStringList, args);
        QFETCH(QString, message);
        const TempDump file(smallFixture());
        args.replaceInStrings("@FILE", file.qpath());
        const Run r = runMoescope(args);
        QCOMPARE(r.exitCode, 2);
        QVERIFY2(QString(r.err).contains(message), r.err.constData());
        QVERIFY(r.out.isEmpty());
    }

    // A global heap damaged under a string attribute makes HDF5 itself crash (object
    // size garbled) or loop (its first byte): the first look at the file happens in a
    // child process, so this one reports a damaged file instead of dying or hanging.
    // (With Debian 12's HDF5 1.10.8 the messages say which; an HDF5 that refuses such
    // files by itself would give its own error, which passes too: exit 1, file named,
    // no crash, no hang.)
    // A first word that is no command and no file never opens the window (a script
    // would wait forever): a plain word is an unknown command (exit 2, the commands
    // listed), a word naming a missing file says so (exit 1).
    void unknownFirstWordExitsAtOnce_data()
    {
        QTest::addColumn<QStringList>("args");
        QTest::addColumn<int>("exitCode");
        QTest::addColumn<QStringList>("messages");
        const QStringList commands = {"info", "stats", "route", "profile", "export", "placement", "watch", "compare", "import"};
        QTest::newRow("misspelt command") << QStringList{"staats", "@FILE"} << 2
                                          << QStringList{"unknown command 'staats'"} + commands;
        QTest::newRow("another unknown command") << QStringList{"convert", "@FILE"} << 2
                                                 << QStringList{"unknown command 'convert'"} + commands;
        QTest::newRow("missing dump") << QStringList{"missing.h5"} << 1 << QStringList{"missing.h5: no such file"};
        QTest::newRow("missing path") << QStringList{"@DIR/absent/run"} << 1 << QStringList{"absent/run: no such file"};
    }

    void unknownFirstWordExitsAtOnce()
    {
        QFETCH(QStringList, args);
        QFETCH(int, exitCode);
        QFETCH(QStringList, messages);
        const TempDump file(smallFixture());
        args.replaceInStrings("@FILE", file.qpath());
        args.replaceInStrings("@DIR", file.dir());
        QElapsedTimer clock;
        clock.start();
        const Run r = runMoescope(args);
        QCOMPARE(r.exitCode, exitCode);
        QVERIFY2(clock.elapsed() < 20000, "moescope waited instead of refusing");
        for (const QString &message : messages)
            QVERIFY2(QString(r.err).contains(message), r.err.constData());
        QVERIFY(r.out.isEmpty());
    }

    void versionIsPrinted()
    {
        const Run r = runMoescope({"--version"});
        QCOMPARE(r.exitCode, 0);
        QVERIFY2(QRegularExpression("^moescope \\d+\\.\\d+\\.\\d+\n$").match(QString(r.out)).hasMatch(), r.out.constData());
    }

    void damagedFileThatCrashesOrHangsHdf5()
    {
        const TempDump file(smallFixture());
        for (const auto &[offset, expected] : {std::pair(25, "HDF5 crashed"), std::pair(24, "did not finish in 2 s")}) {
            const QString path = file.dir() + QString("/damaged%1.h5").arg(offset);
            QVERIFY(writeDamagedHeapCopy(file.qpath(), path, offset));
            for (const char *command : {"info", "stats"}) {
                QElapsedTimer clock;
                clock.start();
                const Run r = runMoescope({command, path}, "2");
                QCOMPARE(r.exitCode, 1);
                QVERIFY2(r.err.contains(path.toUtf8()), r.err.constData());
                if (!r.err.contains(expected))
                    qInfo("HDF5 refused the damaged file by itself: %s", r.err.constData());
                QVERIFY(clock.elapsed() < 30000);
            }
        }
    }

    void refusedFile()
    {
        DumpFixture f = smallFixture();
        f.layers[1].topkIds[4] = 3; // expert id outside [0, 3)
        const TempDump file(f);
        const Run r = runMoescope({"stats", file.qpath(), "--json"});
        QCOMPARE(r.exitCode, 1);
        QVERIFY2(r.err.contains(file.qpath().toUtf8()), r.err.constData());
        QVERIFY2(r.err.contains("/layers/03/topk_ids"), r.err.constData());
        QVERIFY2(r.err.contains("expert id 3"), r.err.constData());
        QVERIFY(r.out.isEmpty());

        QTemporaryDir dir;
        const QString text = dir.filePath("notes.h5");
        QFile t(text);
        QVERIFY(t.open(QIODevice::WriteOnly));
        t.write("hello");
        t.close();
        const Run notHdf5 = runMoescope({"info", text});
        QCOMPARE(notHdf5.exitCode, 1);
        QVERIFY(notHdf5.err.contains("not an HDF5 file"));
    }

    void gpuWithoutDeviceOrAutoNeverCrashes()
    {
        const TempDump file(smallFixture());
        const Run r = runMoescope({"route", file.qpath(), "--device", "auto", "--json"});
        QCOMPARE(r.exitCode, 0);
        QCOMPARE(r.json()["layers"].toArray().size(), 1);
    }
};

QTEST_GUILESS_MAIN(CliTest)
#include "CliTest.moc"
