// Background jobs at the end: a job still running when its slot goes is told to stop,
// and Engines::finishJobs() returns only once it has (the programs call it before
// leaving main(), while HDF5 is still open).
#include "Engines.h"
#include "JobSlot.h"

#include <QTest>

#include <atomic>
#include <chrono>
#include <thread>

using namespace moescope;
using namespace moescope::ui;

class JobSlotTest : public QObject {
    Q_OBJECT

private slots:
    void finishJobsWaitsForAJobTheSlotStopped()
    {
        std::atomic<bool> started{false}, ended{false};
        struct SetOnExit {
            std::atomic<bool> &flag;
            ~SetOnExit() { flag = true; }
        };
        {
            JobSlot slot(QStringLiteral("test"));
            slot.start<int>(
                [&](const Progress &progress) {
                    const SetOnExit done{ended};
                    started = true;
                    for (;;) { // a long read that checks now and then
                        progress.checkCancelled();
                        std::this_thread::sleep_for(std::chrono::milliseconds(300));
                    }
                    return 0;
                },
                [](int) {});
            QTRY_VERIFY(started.load());
        } // the slot goes: its job is told to stop, and is still asleep
        QVERIFY(!ended.load());
        Engines::finishJobs();
        QVERIFY(ended.load());
    }
};

QTEST_MAIN(JobSlotTest)
#include "JobSlotTest.moc"
