// RunLogReader follows a run log while a separate writer process appends to it: every
// complete step, nothing of a half-written one, after a SIGKILL too; a file written
// without SWMR is reopened when it changes, a file replaced by a new run is noticed;
// a long, wide run is read by hyperslab.
#include "io/DumpError.h"
#include "io/RunLog.h"
#include "support/LongRunLog.h"
#include "support/RunLogPattern.h"
#include "support/RunLogWriterProcess.h"

#include <hdf5.h>

#include <QElapsedTimer>
#include <QTemporaryDir>
#include <QtTest>

using namespace moescope;
using namespace moescope::test;

namespace {

// Checks the n first records against what the writer wrote at steps first, first+1, ...
void expectPattern(const RunLogReader &reader, const RunLogPattern &p, std::int64_t first)
{
    const std::size_t n = reader.numSteps();
    const auto steps = reader.steps(0, n);
    const auto counts = reader.counts(0, n);
    const auto lb = reader.series(RunLogSeries::LbLoss, 0, n);
    const std::size_t L = std::size_t(p.layers), E = std::size_t(p.experts);
    for (std::size_t i = 0; i < n; ++i) {
        QCOMPARE(steps[i], first + std::int64_t(i));
        const auto want = p.counts(steps[i]);
        QVERIFY(std::equal(want.begin(), want.end(), counts.begin() + std::ptrdiff_t(i * L * E)));
        for (std::size_t l = 0; l < L; ++l)
            QCOMPARE(float(lb[i * L + l]), float(p.lbLoss(steps[i], int(l))));
    }
}

} // namespace

class RunLogTest : public QObject {
    Q_OBJECT

private slots:
    void followsAWriterAsItAppends()
    {
        QTemporaryDir dir;
        const QString path = dir.filePath("run.h5");
        RunLogPattern p;
        RunLogWriterProcess writer(path, {"--steps", "40", "--interval-ms", "20"});
        QVERIFY(writer.waitForLine("1"));
        RunLogReader reader(path.toStdString());
        QVERIFY(reader.info().swmr);
        QCOMPARE(reader.info().numLayers, std::size_t(4));
        QCOMPARE(reader.info().layerNames.front(), std::string("00"));
        QVERIFY(reader.numSteps() >= 1);
        QVERIFY(reader.writerOpen());
        std::size_t grew = 0;
        QElapsedTimer clock;
        clock.start();
        while (reader.numSteps() < 40 && clock.elapsed() < 30000) {
            if (reader.refresh() == RunLogReader::Change::Grew) {
                ++grew;
                expectPattern(reader, p, 1); // whatever is seen mid-run is whole
            }
            QTest::qWait(5);
        }
        QCOMPARE(reader.numSteps(), std::size_t(40));
        QVERIFY(grew >= 2); // it saw the log grow, not just the finished file
        QVERIFY(writer.waitForExit());
        QVERIFY(!reader.writerOpen()); // the writer closed the file
        expectPattern(reader, p, 1);
    }

    void killedMidAppendKeepsEveryCompleteStep()
    {
        QTemporaryDir dir;
        const QString path = dir.filePath("run.h5");
        RunLogWriterProcess writer(path, {"--steps", "100", "--hang-mid-append", "6"});
        QVERIFY(writer.waitForLine("mid-append 6"));
        writer.kill();
        RunLogReader reader(path.toStdString());
        // Step 6's counts and losses reached the file, its `step` entry did not: the
        // datasets differ in length and the reader trusts `step`.
        QCOMPARE(reader.numSteps(), std::size_t(5));
        expectPattern(reader, RunLogPattern{}, 1);
        QVERIFY(reader.writerOpen()); // the flags of a killed writer stay set
        QCOMPARE(reader.refresh(), RunLogReader::Change::None);
        QVERIFY_THROWS_EXCEPTION(DumpError, reader.counts(5, 1));
    }

    void aFileWrittenWithoutSwmrIsReopenedWhenItChanges()
    {
        QTemporaryDir dir;
        const QString path = dir.filePath("run.h5");
        QVERIFY(RunLogWriterProcess(path, {"--steps", "3", "--no-swmr"}).waitForExit());
        RunLogReader reader(path.toStdString());
        QVERIFY(!reader.info().swmr);
        QCOMPARE(reader.numSteps(), std::size_t(3));
        QCOMPARE(reader.refresh(), RunLogReader::Change::None);
        QVERIFY(RunLogWriterProcess(path, {"--append", "--first", "4", "--steps", "2"}).waitForExit());
        QCOMPARE(reader.refresh(), RunLogReader::Change::Grew);
        QCOMPARE(reader.numSteps(), std::size_t(5));
        expectPattern(reader, RunLogPattern{}, 1);
    }

    void aNewRunOfTheSameNameIsNoticed()
    {
        QTemporaryDir dir;
        const QString path = dir.filePath("run.h5");
        QVERIFY(RunLogWriterProcess(path, {"--steps", "5"}).waitForExit());
        RunLogReader reader(path.toStdString());
        QCOMPARE(reader.numSteps(), std::size_t(5));
        QVERIFY(RunLogWriterProcess(path, {"--steps", "2", "--first", "100", "--experts", "16"}).waitForExit());
        QCOMPARE(reader.refresh(), RunLogReader::Change::Replaced);
        QCOMPARE(reader.numSteps(), std::size_t(2));
        QCOMPARE(reader.info().numExperts, std::size_t(16));
        RunLogPattern p;
        p.experts = 16;
        expectPattern(reader, p, 100);
    }

    void refusesWhatIsNotARunLog()
    {
        QTemporaryDir dir;
        const std::string missing = dir.filePath("none.h5").toStdString();
        try {
            RunLogReader reader(missing);
            QFAIL("a missing file was opened");
        } catch (const DumpError &e) {
            QCOMPARE(e.file(), missing);
            QVERIFY(QString::fromStdString(e.problem()).contains("does not exist"));
        }
        const std::string notHdf5 = dir.filePath("text.h5").toStdString();
        QFile f(QString::fromStdString(notHdf5));
        QVERIFY(f.open(QIODevice::WriteOnly));
        f.write("not an HDF5 file at all");
        f.close();
        QVERIFY_THROWS_EXCEPTION(DumpError, RunLogReader{notHdf5});
        // A dump without /training.
        const std::string noTraining = dir.filePath("plain.h5").toStdString();
        {
            const hid_t file = H5Fcreate(noTraining.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
            const hid_t str = H5Tcopy(H5T_C_S1);
            H5Tset_size(str, 11);
            const hid_t space = H5Screate(H5S_SCALAR);
            const long long one = 1, eight = 8;
            auto attr = [&](const char *name, hid_t type, const void *v) {
                const hid_t a = H5Acreate2(file, name, type, space, H5P_DEFAULT, H5P_DEFAULT);
                H5Awrite(a, type, v);
                H5Aclose(a);
            };
            attr("format", str, "moe-routing");
            attr("format_version", H5T_NATIVE_LLONG, &one);
            attr("num_experts", H5T_NATIVE_LLONG, &eight);
            H5Sclose(space);
            H5Tclose(str);
            H5Fclose(file);
        }
        try {
            RunLogReader reader(noTraining);
            QFAIL("a file without /training was opened");
        } catch (const DumpError &e) {
            QCOMPARE(e.object(), std::string("/training"));
        }
    }

    void longWideRunIsReadByHyperslab()
    {
        // Reading a window of steps of one layer must touch only its chunks.
        QTemporaryDir dir;
        const std::string path = dir.filePath("long.h5").toStdString();
        writeLongRunLog(path);
        const hsize_t N = kLongSteps, L = kLongLayers, E = kLongExperts;
        QElapsedTimer clock;
        clock.start();
        RunLogReader reader(path);
        QCOMPARE(reader.numSteps(), std::size_t(N));
        QCOMPARE(reader.info().numLayers, std::size_t(L));
        const auto last = reader.layerCounts(57, 19990, 10);
        QCOMPARE(last.size(), std::size_t(10 * E));
        for (hsize_t i = 0; i < 10; ++i)
            for (hsize_t e = 0; e < E; ++e)
                QCOMPARE(last[i * E + e], std::int64_t(e + 19990 + i));
        QCOMPARE(reader.steps(19999, 1).front(), std::int64_t(199990));
        QVERIFY2(clock.elapsed() < 5000, "a window of a long run must not read the whole series");
    }
};

QTEST_GUILESS_MAIN(RunLogTest)
#include "RunLogTest.moc"
