#include "JobSlot.h"

#include "Engines.h"

#include <QMetaObject>
#include <QPromise>

#include <mutex>

namespace moescope::ui {

// Workers post partial results through this; the slot empties it when it goes, so a
// worker that outlives it posts nothing.
struct JobSlot::Mailbox {
    std::mutex mutex;
    JobSlot *slot = nullptr;
};

JobSlot::JobSlot(const QString &label, QObject *parent)
    : QObject(parent), m_label(label), m_mailbox(std::make_shared<Mailbox>())
{
    m_mailbox->slot = this;
}

JobSlot::~JobSlot()
{
    {
        const std::lock_guard lock(m_mailbox->mutex);
        m_mailbox->slot = nullptr;
    }
    // Running workers hold their own reference to the flag; they stop at their next
    // check and their results are dropped with the watchers (children of this slot).
    if (m_cancel)
        m_cancel->store(true);
}

bool JobSlot::stop()
{
    if (m_cancel)
        m_cancel->store(true);
    ++m_generation;
    if (!m_busy)
        return false;
    m_busy = false;
    emit busyChanged(false);
    return true;
}

void JobSlot::cancel()
{
    if (stop())
        emit cancelled();
}

void JobSlot::discard() { stop(); }

void JobSlot::launch(std::function<Finisher(const Progress &, const Poster &)> task)
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
    // Partial results are queued to this slot's thread, so they arrive in order and
    // before the watcher's finished() (posted later by the same worker).
    const Poster post = [mailbox = m_mailbox, generation](Finisher deliver) {
        const std::lock_guard lock(mailbox->mutex);
        JobSlot *slot = mailbox->slot;
        if (!slot)
            return;
        QMetaObject::invokeMethod(
            slot,
            [slot, generation, deliver = std::move(deliver)] {
                if (generation == slot->m_generation)
                    deliver();
            },
            Qt::QueuedConnection);
    };
    watcher->setFuture(QtConcurrent::run(
        Engines::instance().jobs(), [task = std::move(task), cancelFlag, post](QPromise<Finisher> &promise) {
            promise.setProgressRange(0, 1000);
            // QFutureInterface limits how often progress reaches the GUI thread.
            const Progress progress([&promise](double f) { promise.setProgressValue(int(f * 1000.0)); },
                                    cancelFlag.get());
            promise.addResult(task(progress, post));
        }));
    if (!m_busy) {
        m_busy = true;
        emit busyChanged(true);
    }
    emit progressChanged(0.0);
}

} // namespace moescope::ui
