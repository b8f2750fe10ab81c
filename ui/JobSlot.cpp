#include "JobSlot.h"

#include <QPromise>

namespace moescope::ui {

JobSlot::JobSlot(const QString &label, QObject *parent) : QObject(parent), m_label(label) {}

JobSlot::~JobSlot()
{
    // Running workers hold their own reference to the flag; they stop at their next
    // check and their results are dropped with the watchers (children of this slot).
    if (m_cancel)
        m_cancel->store(true);
}

void JobSlot::cancel()
{
    if (m_cancel)
        m_cancel->store(true);
    ++m_generation;
    if (m_busy) {
        m_busy = false;
        emit busyChanged(false);
    }
}

void JobSlot::launch(std::function<Finisher(const Progress &)> task)
{
    if (m_cancel)
        m_cancel->store(true);
    const quint64 generation = ++m_generation;
    auto cancelFlag = std::make_shared<std::atomic<bool>>(false);
    m_cancel = cancelFlag;

    auto *watcher = new QFutureWatcher<Finisher>(this);
    connect(watcher, &QFutureWatcherBase::progressValueChanged, this, [this, generation](int permille) {
        if (generation == m_generation)
            emit progressChanged(permille / 1000.0);
    });
    connect(watcher, &QFutureWatcherBase::finished, this, [this, watcher, generation] {
        watcher->deleteLater();
        if (generation != m_generation)
            return;
        const Finisher finish = watcher->future().resultCount() ? watcher->result() : Finisher();
        m_busy = false;
        emit busyChanged(false);
        if (finish)
            finish();
    });
    watcher->setFuture(QtConcurrent::run(
        [task = std::move(task), cancelFlag](QPromise<Finisher> &promise) {
            promise.setProgressRange(0, 1000);
            // QFutureInterface limits how often progress reaches the GUI thread.
            const Progress progress([&promise](double f) { promise.setProgressValue(int(f * 1000.0)); },
                                    cancelFlag.get());
            promise.addResult(task(progress));
        }));
    if (!m_busy) {
        m_busy = true;
        emit busyChanged(true);
    }
    emit progressChanged(0.0);
}

} // namespace moescope::ui
