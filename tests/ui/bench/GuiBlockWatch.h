#pragma once
// How long the GUI thread stays away from its event loop, for the window benchmark
// (moescope_ui_shots DUMP --bench). A 1 ms precise timer ticks on the GUI thread: the
// longest gap between two ticks is the longest time the thread was busy elsewhere (a
// slot, a layout, a paint, a file read) and a user's input would have waited. The
// application's notify() times every event it delivers, so the worst block can be
// traced to the object and the event that took it. Beside each wall-clock figure, the
// CPU time the GUI thread itself spent: on a machine shared with other work the wall
// clock also counts the time the thread waited for a core.
#include <QApplication>
#include <QElapsedTimer>
#include <QString>
#include <QTimer>

namespace moescope::ui::bench {

// The slowest event delivered since the last reset: milliseconds and what it was
// ("MetaCall to moescope::ui::JobSlot in moescope::ui::ExpertPairsView").
struct SlowEvent {
    double ms = 0, cpuMs = 0;
    QString what;
};

// CPU time of the calling thread, in nanoseconds.
qint64 threadCpuNs();
// CPU time of the whole process (every thread), in nanoseconds.
qint64 processCpuNs();

class TimedApplication : public QApplication {
public:
    using QApplication::QApplication;
    bool notify(QObject *receiver, QEvent *event) override;
    SlowEvent worstEvent() const { return m_worst; }
    void resetWorstEvent() { m_worst = {}; }

private:
    int m_depth = 0; // events delivered inside another event count as part of it
    SlowEvent m_worst;
};

class GuiBlockWatch {
public:
    GuiBlockWatch();
    // Starts a new phase: the worst gap so far is forgotten.
    void reset();
    // The longest gap between two ticks since reset(), less the 1 ms tick itself.
    double worstBlockMs() const;
    // When that gap ended, in seconds since reset().
    double worstBlockAtSeconds() const { return double(m_worstAt) * 1e-9; }
    // The most CPU time the GUI thread spent between two ticks since reset().
    double worstBlockCpuMs() const { return double(m_worstCpu) * 1e-6; }

private:
    void tick();

    QTimer m_timer;
    QElapsedTimer m_clock;
    qint64 m_last = 0, m_worst = 0, m_worstAt = 0; // nanoseconds since reset()
    qint64 m_lastCpu = 0, m_worstCpu = 0;          // thread CPU nanoseconds
};

} // namespace moescope::ui::bench
