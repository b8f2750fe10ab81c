#pragma once
// One kind of background work (loading a dump, a profile, a what-if run) where the
// latest request wins: starting a job cancels the one before it, and only the
// newest job's result reaches the GUI thread. Work runs with QtConcurrent::run and
// gets a core Progress whose cancel flag this slot owns; results come back through a
// QFutureWatcher, so they are delivered on the GUI thread and dropped if the slot is
// gone. The GUI never waits on a job and never pumps events.
#include "analysis/Progress.h"

#include <QFutureWatcher>
#include <QObject>
#include <QString>
#include <QtConcurrent/QtConcurrentRun>

#include <atomic>
#include <exception>
#include <functional>
#include <memory>

namespace moescope::ui {

class JobSlot : public QObject {
    Q_OBJECT
public:
    explicit JobSlot(const QString &label, QObject *parent = nullptr);
    ~JobSlot() override;

    // Runs work(progress) on the thread pool; onDone(result) or onError(message) runs
    // on the GUI thread if no newer job was started meanwhile. A cancelled job calls
    // neither. The callables are copied to the worker, so they must not capture
    // anything the GUI may change; capture snapshots by value.
    template <typename Result>
    void start(std::function<Result(const Progress &)> work, std::function<void(Result)> onDone,
               std::function<void(const QString &)> onError = {});

    void cancel();
    bool isBusy() const { return m_busy; }
    QString label() const { return m_label; }
    void setLabel(const QString &label) { m_label = label; }

signals:
    void busyChanged(bool busy);
    void progressChanged(double fraction);

private:
    using Finisher = std::function<void()>;
    void launch(std::function<Finisher(const Progress &)> task);

    QString m_label;
    quint64 m_generation = 0;
    std::shared_ptr<std::atomic<bool>> m_cancel;
    bool m_busy = false;
};

template <typename Result>
void JobSlot::start(std::function<Result(const Progress &)> work, std::function<void(Result)> onDone,
                    std::function<void(const QString &)> onError)
{
    launch([work = std::move(work), onDone = std::move(onDone),
            onError = std::move(onError)](const Progress &progress) -> Finisher {
        try {
            auto result = std::make_shared<Result>(work(progress));
            return [onDone, result] { onDone(std::move(*result)); };
        } catch (const Cancelled &) {
            return {};
        } catch (const std::exception &e) {
            const QString message = QString::fromStdString(e.what());
            return [onError, message] {
                if (onError)
                    onError(message);
            };
        }
    });
}

} // namespace moescope::ui
