// `stats`, `info` and `profile` on a load-only dump (counts, no /tokens), as a user runs them.
#include "support/RunMoescope.h"
#include "support/TempDump.h"

#include <QtTest>

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>

using namespace moescope::test;

namespace {
DumpFixture loadOnly()
{
    DumpFixture f;
    f.numExperts = 4;
    f.topK = 1;
    f.omit = {"tokens"};
    f.numberAttributes["num_tokens"] = 8;
    FixtureLayer l;
    l.name = "00";
    l.counts = {5, 2, 1, 0};
    f.layers = {l};
    return f;
}
} // namespace

class LoadOnlyCliTest : public QObject {
    Q_OBJECT
private slots:
    void statsReportsWhatCountsAllow()
    {
        TempDump dump(loadOnly());
        const Run r = runMoescope({"stats", dump.qpath(), "--json"});
        QVERIFY2(r.exitCode == 0, r.err.constData());
        const QJsonObject json = QJsonDocument::fromJson(r.out).object();
        QCOMPARE(json["tokens"].toInt(), 8);
        const QJsonObject layer = json["layers"].toArray().at(0).toObject();
        QCOMPARE(layer["counts"].toArray(), (QJsonArray{5, 2, 1, 0}));
        // Mean load 2: expert 0 (5 > 2.5) is hot, expert 3 (0 < 0.2) cold.
        QCOMPARE(layer["hot"].toArray(), QJsonArray{0});
        QCOMPARE(layer["cold"].toArray(), QJsonArray{3});
        QVERIFY(std::abs(layer["max_vio"].toDouble() - 1.5) < 1e-12);
        QVERIFY(layer["dropped_fraction"].isNull());
        QVERIFY(layer["invalid_tokens"].isNull());
        QVERIFY(layer["lb_loss"].isNull());

        const Run text = runMoescope({"stats", dump.qpath()});
        QVERIFY2(text.exitCode == 0, text.err.constData());
    }

    void profileSaysWhyNot()
    {
        TempDump dump(loadOnly());
        const Run r = runMoescope({"profile", dump.qpath(), "--layer", "0", "--expert", "0"});
        QCOMPARE(r.exitCode, 1);
        QVERIFY2(r.err.contains("counts only"), r.err.constData());
    }
};

QTEST_GUILESS_MAIN(LoadOnlyCliTest)
#include "LoadOnlyCliTest.moc"
