// The window following a run log that a writer process appends to: the training view
// grows poll by poll while keeping the user's zoom and selection, the status says how
// fresh the data is and, once the writer is killed, asks whether it stopped; the alert
// banner names the collapsing layer, the step its streak began and the condition, and
// a click selects that layer. A 20,000-step, 58-layer, 256-expert log is followed in
// bins, never whole.
#include "MainWindow.h"
#include "SelectionModel.h"
#include "live/FollowRunPage.h"
#include "io/DumpError.h"
#include "live/LiveRunState.h"
#include "plots/TrainingPlot.h"
#include "views/TrainingView.h"
#include "support/LongRunLog.h"
#include "support/RunLogPattern.h"
#include "support/RunLogWriterProcess.h"
#include "support/UiFixture.h"

#include <QPushButton>
#include <QSignalSpy>
#include <QTableWidget>
#include <QtTest>

using namespace moescope;
using namespace moescope::ui;
using namespace moescope::test;

class FollowRunTest : public QObject {
    Q_OBJECT

    QTemporaryDir m_settings;

private slots:
    void initTestCase() { isolateSettings(m_settings); }

    void windowFollowsAGrowingRun()
    {
        QTemporaryDir dir;
        const QString path = dir.filePath("run.h5");
        RunLogWriterProcess writer(path, {"--steps", "100000", "--interval-ms", "40", "--collapse-from", "60",
                                          "--collapse-layer", "1"});
        QVERIFY(writer.waitForLine("1"));
        MainWindow window;
        window.show();
        FollowRunPage *page = window.followPage();
        page->setPollInterval(150);
        window.openFile(path); // being written: the window follows it rather than loading it
        QVERIFY(page->isFollowing());
        TrainingPlot *plot = window.training()->plot();
        QTRY_VERIFY_WITH_TIMEOUT(plot->hasChartData(), 15000);

        // The user picks layer 2, expert 3 and zooms into the first steps.
        window.selection()->setLayerAndExpert(2, 3);
        QTRY_VERIFY_WITH_TIMEOUT(page->lastPoll().steps >= 12, 15000);
        plot->setStepRange(1.5, 6.5);
        const std::size_t before = page->lastPoll().steps;
        QTRY_VERIFY_WITH_TIMEOUT(page->lastPoll().steps >= before + 5, 15000);
        QCOMPARE(plot->stepRange(), std::make_pair(1.5, 6.5)); // the zoom stayed
        QCOMPARE(window.selection()->current().layer, 2);      // and so did the selection
        QCOMPARE(window.selection()->current().expert, 3);
        QCOMPARE(plot->layer(), 2);
        QVERIFY2(page->statusText().startsWith("following: step "), qPrintable(page->statusText()));

        // The series the chart shows is the file's: step numbers 1, 2, ... and the
        // counts the writer wrote.
        const auto &series = *page->lastPoll().snapshot->analysis.training;
        RunLogPattern p;
        for (std::size_t i = 0; i < series.numRecords(); ++i) {
            QCOMPARE(series.steps[i], std::int64_t(i + 1));
            const auto want = p.counts(series.steps[i]);
            QVERIFY(std::equal(want.begin(), want.end(), series.tokensPerExpert.begin() + std::ptrdiff_t(i * 32)));
        }

        // Layer 01 collapses from step 60: three steps later the banner says so.
        QTRY_VERIFY_WITH_TIMEOUT(page->alertButton()->isVisible(), 30000);
        const QString alert = page->alertButton()->text();
        QVERIFY2(alert.contains("layer 01") && alert.contains("since step 60") && alert.contains("cold"),
                 qPrintable(alert));
        QTest::mouseClick(page->alertButton(), Qt::LeftButton);
        QCOMPARE(window.selection()->current().layer, 1);
        QVERIFY(page->table()->item(1, 5)->text().startsWith("collapsing"));
        QCOMPARE(page->table()->item(0, 5)->text(), QString("ok"));

        // The writer dies: no new step, and after a while the status asks why.
        writer.kill();
        page->setStalledAfter(800);
        QTRY_VERIFY_WITH_TIMEOUT(page->statusText().contains("writer stopped?"), 15000);
    }

    void aClosedRunEndsThePolling()
    {
        QTemporaryDir dir;
        const QString path = dir.filePath("run.h5");
        QVERIFY(RunLogWriterProcess(path, {"--steps", "7"}).waitForExit());
        MainWindow window;
        window.show();
        window.openFile(path); // a finished run log: not a dump, so it is followed
        FollowRunPage *page = window.followPage();
        QTRY_VERIFY_WITH_TIMEOUT(page->lastPoll().steps == 7, 15000);
        QTRY_VERIFY_WITH_TIMEOUT(page->statusText().startsWith("run finished: step 7"), 15000);
        QVERIFY(window.training()->plot()->hasChartData());
        QVERIFY(!page->alertButton()->isVisible());
    }

    // The first poll opens the run log through the helper process: a helper that
    // crashes (as HDF5 does on some damaged files) is an error naming the file, and
    // this process never opens the file itself.
    void theFirstOpenGoesThroughTheHelper()
    {
        QTemporaryDir dir;
        const QString path = dir.filePath("run.h5");
        QVERIFY(RunLogWriterProcess(path, {"--steps", "3"}).waitForExit());
        const QString helper = dir.filePath("crash");
        QFile f(helper);
        QVERIFY(f.open(QIODevice::WriteOnly));
        f.write("#!/bin/sh\nkill -SEGV $$\n");
        f.close();
        f.setPermissions(f.permissions() | QFileDevice::ExeOwner);
        qputenv("MOESCOPE_PREFLIGHT_PROGRAM", helper.toUtf8());
        LiveRunState state(path.toStdString());
        QString message;
        try {
            state.poll();
        } catch (const DumpError &e) {
            message = QString::fromStdString(e.what());
        }
        qunsetenv("MOESCOPE_PREFLIGHT_PROGRAM");
        QVERIFY2(message.startsWith(path + ": HDF5 crashed"), qPrintable(message));
        QCOMPARE(LiveRunState(path.toStdString()).poll().steps, std::size_t(3)); // the real helper passes it
    }

    void aNewRunReplacingTheFileIsAnnounced()
    {
        QTemporaryDir dir;
        const QString path = dir.filePath("run.h5");
        RunLogWriterProcess first(path, {"--steps", "100000", "--interval-ms", "50"});
        QVERIFY(first.waitForLine("3"));
        MainWindow window;
        window.show();
        FollowRunPage *page = window.followPage();
        page->setPollInterval(100);
        QSignalSpy told(page, &FollowRunPage::message);
        QSignalSpy shown(page, &FollowRunPage::snapshotChanged);
        window.followRun(path);
        QTRY_VERIFY_WITH_TIMEOUT(page->lastPoll().steps >= 3, 15000);
        first.kill();
        RunLogWriterProcess second(path, {"--steps", "100000", "--first", "500", "--interval-ms", "50"});
        QVERIFY(second.waitForLine("502"));
        QTRY_VERIFY_WITH_TIMEOUT(!told.isEmpty(), 15000);
        QVERIFY(told.first().first().toString().contains("replaced by a new run"));
        QTRY_VERIFY_WITH_TIMEOUT(page->lastPoll().lastStep >= 502, 15000);
        const auto latest = shown.last().first().value<DumpSnapshotPtr>();
        QCOMPARE(latest->analysis.training->steps.front(), std::int64_t(500)); // the new run from its start
    }

    void aLongWideRunIsHeldInBins()
    {
        QTemporaryDir dir;
        const std::string path = dir.filePath("long.h5").toStdString();
        writeLongRunLog(path);
        LiveRunState state(path);
        const LivePoll poll = state.poll();
        QCOMPARE(poll.steps, std::size_t(kLongSteps));
        QCOMPARE(poll.lastStep, std::int64_t((kLongSteps - 1) * 10));
        // 8 M counts / (58 x 256) = 564 bins at most: 64 steps per bin.
        QVERIFY(state.bins() <= 564);
        QCOMPARE(state.recordsPerBin(), std::size_t(64));
        const auto &series = *poll.snapshot->analysis.training;
        QCOMPARE(series.numRecords(), state.bins());
        QCOMPARE(series.tokensPerExpert.size(), state.bins() * kLongLayers * kLongExperts);
        // The last bin holds steps 19,968..19,999; of layer 57 only 19,984.. are
        // non-zero: expert e's mean over the bin is (sum of e + i, i = 19984..19999) / 32.
        const std::size_t last = state.bins() - 1;
        for (std::size_t e = 0; e < kLongExperts; e += 51) {
            std::int64_t sum = 0;
            for (std::int64_t i = 19984; i < 20000; ++i)
                sum += std::int64_t(e) + i;
            QCOMPARE(series.tokensPerExpert[(last * kLongLayers + 57) * kLongExperts + e], (sum + 16) / 32);
        }
    }
};

QTEST_MAIN(FollowRunTest)
#include "FollowRunTest.moc"
