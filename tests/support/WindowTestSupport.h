#pragma once
// What the window tests share: open a dump in a shown window and wait for it, and
// wait for a job slot's jobs to come back.
#include "JobSlot.h"
#include "MainWindow.h"

#include <QFutureWatcher>
#include <QSignalSpy>
#include <QTest>

namespace moescope::test {

// Shows `window` and opens `path` in it; true once the dump is on screen.
inline bool showDump(ui::MainWindow &window, const QString &path)
{
    window.show();
    QSignalSpy shown(&window, &ui::MainWindow::dumpShown);
    window.openFile(path);
    return shown.wait(15000);
}

// Waits until every job `slot` started has come back to the GUI thread, its result
// delivered or dropped (each job's watcher, a child of the slot, goes once it has).
// Only then can a test see that a cancelled or superseded job delivered nothing.
inline bool jobsComeBack(ui::JobSlot *slot, int ms = 15000)
{
    return QTest::qWaitFor([slot] { return slot->findChildren<QFutureWatcherBase *>().isEmpty(); }, ms);
}

} // namespace moescope::test
