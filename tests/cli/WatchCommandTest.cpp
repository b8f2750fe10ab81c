// `moescope watch` run as a user runs it, on a run log a separate writer process is
// appending to: a line per step with the numbers a plain computation here gives, exit
// 3 with the alert when a layer collapses, 0 when the writer closes the file or at
// --until-step, 1 after --timeout without a new step (a writer killed mid-append), 1
// naming the file when the helper process that opens it first crashes.
#include "support/RunLogPattern.h"
#include "support/RunLogWriterProcess.h"

#include <QtTest>

#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QElapsedTimer>
#include <QTemporaryDir>

#include <cmath>

using namespace moescope::test;

namespace {

struct Run {
    int exitCode = -1;
    QList<QJsonObject> lines;
    QByteArray out, err;
};

// helper: MOESCOPE_PREFLIGHT_PROGRAM for this run (empty: the real one).
Run watch(const QStringList &args, const QString &helper = {})
{
    QProcess p;
    QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
    if (!helper.isEmpty())
        env.insert("MOESCOPE_PREFLIGHT_PROGRAM", helper);
    env.remove("DISPLAY");
    env.remove("QT_QPA_PLATFORM");
    p.setProcessEnvironment(env);
    p.start(qEnvironmentVariable("MOESCOPE_BIN"), QStringList{"watch"} + args);
    if (!p.waitForFinished(120000))
        qFatal("moescope watch did not finish");
    Run r{p.exitStatus() == QProcess::NormalExit ? p.exitCode() : -1, {}, p.readAllStandardOutput(),
          p.readAllStandardError()};
    for (const QByteArray &line : r.out.split('\n'))
        if (!line.trimmed().isEmpty())
            r.lines.push_back(QJsonDocument::fromJson(line).object());
    return r;
}

// What watch must say about one step, computed plainly from the writer's counts.
QJsonObject expectedLine(const RunLogPattern &p, std::int64_t step)
{
    const auto c = p.counts(step);
    const int E = p.experts;
    int worst = -1;
    double worstVio = 0, worstCv = 0;
    int worstHot = 0, worstCold = 0;
    bool worstCollapsing = false;
    for (int l = 0; l < p.layers; ++l) {
        double sum = 0, top = 0;
        for (int e = 0; e < E; ++e) {
            sum += double(c[std::size_t(l * E + e)]);
            top = std::max(top, double(c[std::size_t(l * E + e)]));
        }
        const double m = sum / E;
        double var = 0;
        int hot = 0, cold = 0;
        for (int e = 0; e < E; ++e) {
            const double v = double(c[std::size_t(l * E + e)]);
            var += (v - m) * (v - m) / E;
            hot += v > 1.25 * m;
            cold += v < 0.1 * m;
        }
        const double vio = (top - m) / m;
        const bool collapsing = cold >= std::max(1, int(std::ceil(0.1 * E))) || vio > 2;
        if (worst < 0 || (collapsing && !worstCollapsing) || (collapsing == worstCollapsing && vio > worstVio)) {
            worst = l;
            worstVio = vio;
            worstCv = std::sqrt(var) / m;
            worstHot = hot;
            worstCold = cold;
            worstCollapsing = collapsing;
        }
    }
    return {{"step", qint64(step)}, {"worst_layer", QString("%1").arg(worst, 2, 10, QChar('0'))},
            {"cv", worstCv}, {"max_vio", worstVio}, {"hot", worstHot}, {"cold", worstCold}};
}

void compareLine(const QJsonObject &got, const QJsonObject &want)
{
    QCOMPARE(got["step"].toInteger(), want["step"].toInteger());
    QCOMPARE(got["worst_layer"].toString(), want["worst_layer"].toString());
    QVERIFY(std::abs(got["cv"].toDouble() - want["cv"].toDouble()) < 1e-9);
    QVERIFY(std::abs(got["max_vio"].toDouble() - want["max_vio"].toDouble()) < 1e-9);
    QCOMPARE(got["hot"].toInt(), want["hot"].toInt());
    QCOMPARE(got["cold"].toInt(), want["cold"].toInt());
}

} // namespace

class WatchCommandTest : public QObject {
    Q_OBJECT

private slots:
    void initTestCase() { QVERIFY2(QFile::exists(qEnvironmentVariable("MOESCOPE_BIN")), "MOESCOPE_BIN not set"); }

    void followsAWriterUntilItClosesTheFile()
    {
        QTemporaryDir dir;
        const QString path = dir.filePath("run.h5");
        RunLogWriterProcess writer(path, {"--steps", "25", "--interval-ms", "80"});
        QVERIFY(writer.waitForLine("1"));
        const Run r = watch({path, "--json", "--interval", "0.1"});
        QCOMPARE(r.exitCode, 0);
        QVERIFY2(r.err.contains("closed"), r.err.constData());
        QCOMPARE(r.lines.size(), 25);
        for (int i = 0; i < 25; ++i)
            compareLine(r.lines[i], expectedLine(RunLogPattern{}, i + 1));
    }

    void alertsWhenALayerCollapses()
    {
        QTemporaryDir dir;
        const QString path = dir.filePath("run.h5");
        RunLogPattern p;
        p.collapseFrom = 12;
        p.collapseLayer = 2;
        RunLogWriterProcess writer(path, {"--steps", "1000", "--interval-ms", "30", "--collapse-from", "12",
                                          "--collapse-layer", "2"});
        QVERIFY(writer.waitForLine("1"));
        const Run r = watch({path, "--json", "--interval", "0.1", "--window", "3"});
        QCOMPARE(r.exitCode, 3);
        // Steps 1..14 (the streak 12, 13, 14 makes three), then the alert, last.
        QCOMPARE(r.lines.size(), 15);
        for (int i = 0; i < 14; ++i)
            compareLine(r.lines[i], expectedLine(p, i + 1));
        const QJsonObject alert = r.lines.back()["alert"].toObject();
        QCOMPARE(alert["layer"].toString(), QString("02"));
        QCOMPARE(alert["since_step"].toInteger(), 12);
        QCOMPARE(alert["condition"].toString(), QString("cold")); // and MaxVio 3.8: cold is named first

        // The text form ends with the alert line too.
        const Run text = watch({path, "--interval", "0.1", "--window", "5"});
        QCOMPARE(text.exitCode, 3);
        const QList<QByteArray> lines = text.out.trimmed().split('\n');
        QVERIFY2(lines.back().startsWith("ALERT layer 02 collapsing since step 12"), lines.back().constData());
        QVERIFY(lines[lines.size() - 2].startsWith("step 16 "));
    }

    void stopsAtUntilStep()
    {
        QTemporaryDir dir;
        const QString path = dir.filePath("run.h5");
        RunLogWriterProcess writer(path, {"--steps", "1000", "--interval-ms", "20"});
        QVERIFY(writer.waitForLine("1"));
        const Run r = watch({path, "--json", "--interval", "0.1", "--until-step", "7"});
        QCOMPARE(r.exitCode, 0);
        QCOMPARE(r.lines.size(), 7);
        QCOMPARE(r.lines.back()["step"].toInteger(), 7);
    }

    void timesOutAfterAWriterWasKilledMidAppend()
    {
        QTemporaryDir dir;
        const QString path = dir.filePath("run.h5");
        RunLogWriterProcess writer(path, {"--steps", "1000", "--hang-mid-append", "5"});
        QVERIFY(writer.waitForLine("mid-append 5"));
        writer.kill();
        const Run r = watch({path, "--json", "--interval", "0.1", "--timeout", "1"});
        QCOMPARE(r.exitCode, 1);
        QCOMPARE(r.lines.size(), 4); // steps 1..4; step 5 was never completed
        QVERIFY2(r.err.contains("no new step in 1.00 s (writer stopped?)"), r.err.constData());
    }

    // The first open of the run log goes through the helper process (as a dump's does),
    // given --run-log and the path; a helper that crashes, as HDF5 does on some damaged
    // files, is reported as a damaged file, and watch never opens it itself.
    void firstOpenGoesThroughTheHelper()
    {
        QTemporaryDir dir;
        const QString path = dir.filePath("run.h5");
        RunLogWriterProcess writer(path, {"--steps", "3"});
        QVERIFY(writer.waitForExit());
        const QString record = dir.filePath("args.txt");
        const auto script = [&](const char *name, const QByteArray &body) {
            const QString file = dir.filePath(name);
            QFile f(file);
            if (!f.open(QIODevice::WriteOnly))
                qFatal("cannot write %s", qPrintable(file));
            f.write("#!/bin/sh\n" + body + "\n");
            f.close();
            f.setPermissions(f.permissions() | QFileDevice::ExeOwner);
            return file;
        };
        Run r = watch({path, "--json", "--timeout", "5"}, script("look", "echo \"$1 $2\" > '" + record.toUtf8() + "'\nexit 0"));
        QCOMPARE(r.exitCode, 0);
        QCOMPARE(r.lines.size(), 3);
        QFile args(record);
        QVERIFY(args.open(QIODevice::ReadOnly));
        QCOMPARE(QString::fromUtf8(args.readAll()).trimmed(), "--run-log " + path);

        QElapsedTimer clock;
        clock.start();
        r = watch({path, "--json", "--timeout", "1"}, script("crash", "kill -SEGV $$"));
        QCOMPARE(r.exitCode, 1);
        QVERIFY(r.lines.isEmpty());
        QVERIFY2(r.err.contains((path + ": HDF5 crashed").toUtf8()) && r.err.contains("damaged"), r.err.constData());
        QVERIFY(clock.elapsed() < 10000);
    }

    void refusesWhatItCannotWatch()
    {
        QTemporaryDir dir;
        const QString text = dir.filePath("notes.h5");
        QFile f(text);
        QVERIFY(f.open(QIODevice::WriteOnly));
        f.write("not HDF5");
        f.close();
        Run r = watch({text, "--timeout", "1"});
        QCOMPARE(r.exitCode, 1);
        QVERIFY2(r.err.contains(text.toUtf8()), r.err.constData());
        r = watch({dir.filePath("never.h5"), "--timeout", "0.5", "--interval", "0.1"});
        QCOMPARE(r.exitCode, 1);
        QVERIFY2(r.err.contains("no run log appeared"), r.err.constData());
        QCOMPARE(watch({text, "--window", "0"}).exitCode, 2);
        QCOMPARE(watch({text, "--interval", "-1"}).exitCode, 2);
    }
};

QTEST_GUILESS_MAIN(WatchCommandTest)
#include "WatchCommandTest.moc"
