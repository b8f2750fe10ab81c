#include "GuiBlockWatch.h"

#include <QMetaEnum>

#include <algorithm>
#include <ctime>

namespace moescope::ui::bench {

qint64 threadCpuNs()
{
    timespec t{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return qint64(t.tv_sec) * 1000000000 + t.tv_nsec;
}

qint64 processCpuNs()
{
    timespec t{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return qint64(t.tv_sec) * 1000000000 + t.tv_nsec;
}

bool TimedApplication::notify(QObject *receiver, QEvent *event)
{
    if (m_depth > 0)
        return QApplication::notify(receiver, event);
    // Names taken before delivery: a DeferredDelete takes its receiver with it. The
    // class names are static strings.
    const char *receiverClass = receiver->metaObject()->className();
    const char *parentClass = receiver->parent() ? receiver->parent()->metaObject()->className() : nullptr;
    const QEvent::Type type = event->type();
    QElapsedTimer clock;
    clock.start();
    const qint64 cpu = threadCpuNs();
    ++m_depth;
    bool handled = false;
    try {
        handled = QApplication::notify(receiver, event);
    } catch (...) {
        --m_depth;
        throw;
    }
    --m_depth;
    const double ms = double(clock.nsecsElapsed()) * 1e-6;
    if (ms > m_worst.ms) {
        const char *typeName = QMetaEnum::fromType<QEvent::Type>().valueToKey(type);
        m_worst.ms = ms;
        m_worst.cpuMs = double(threadCpuNs() - cpu) * 1e-6;
        m_worst.what = QStringLiteral("%1 to %2%3")
                           .arg(typeName ? QString::fromLatin1(typeName) : QString::number(int(type)),
                                QString::fromLatin1(receiverClass),
                                parentClass ? QStringLiteral(" in %1").arg(QString::fromLatin1(parentClass))
                                            : QString());
    }
    return handled;
}

GuiBlockWatch::GuiBlockWatch()
{
    m_timer.setTimerType(Qt::PreciseTimer);
    m_timer.setInterval(1);
    QObject::connect(&m_timer, &QTimer::timeout, [this] { tick(); });
    reset();
    m_timer.start();
}

void GuiBlockWatch::reset()
{
    m_clock.start();
    m_last = m_worst = m_worstAt = 0;
    m_lastCpu = threadCpuNs();
    m_worstCpu = 0;
}

double GuiBlockWatch::worstBlockMs() const
{
    return std::max(0.0, double(m_worst) * 1e-6 - 1.0);
}

void GuiBlockWatch::tick()
{
    const qint64 now = m_clock.nsecsElapsed();
    if (now - m_last > m_worst) {
        m_worst = now - m_last;
        m_worstAt = now;
    }
    m_last = now;
    const qint64 cpu = threadCpuNs();
    m_worstCpu = std::max(m_worstCpu, cpu - m_lastCpu);
    m_lastCpu = cpu;
}

} // namespace moescope::ui::bench
