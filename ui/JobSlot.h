#pragma once
// One kind of background work (loading a dump, a profile, a what-if run) where the
// latest request wins: starting a job cancels the one before it, and only the
// newest job's result reaches the GUI thread. Work runs with QtConcurrent::run and
// gets a core Progress whose cancel flag this slot owns; results come back through a
// QFutureWatcher, so they are delivered on the GUI thread and dropped if the slot is
// gone. The GUI never waits on a job and never pumps events.
//
// A job ends in one of three ways: done (onDone), failed (onError) or cancelled by
// the user (cancel(), then the cancelled() signal). discard() stops a job silently,
// for when its input went away (a new dump, another layer). Staged jobs also hand
// partial results to the GUI thread while they run (startStaged).
#include "io/Progress.h"

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

    // Work that hands out partial results as it goes: work(progress, post) may call
    // post(partial) from its thread any number of times; onPartial(partial) runs on the
    // GUI thread, in order, before onDone, while the job is still the newest.
    template <typename Result, typename Partial>
    void startStaged(std::function<Result(const Progress &, const std::function<void(Partial)> &)> work,
                     std::function<void(Partial)> onPartial, std::function<void(Result)> onDone,
                     std::function<void(const QString &)> onError = {});

    void cancel();  // the user's cancel: stops the job, and emits cancelled() if one ran
    void discard(); // stops the job without a word
    bool isBusy() const { return m_busy; }
    QString label() const { return m_label; }
    void setLabel(const QString &label) { m_label = label; }

signals:
    void busyChanged(bool busy);
    void progressChanged(double fraction);
    void cancelled();

private:
    using Finisher = std::function<void()>;
    // Hands `deliver` to the GUI thread, where it runs if its job is still the newest.
    // Callable from any thread, also after this slot is gone (then it does nothing).
    using Poster = std::function<void(Finisher deliver)>;
    void launch(std::function<Finisher(const Progress &, const Poster &)> task);
    bool stop(); // true when a job was running

    template <typename Result>
    static Finisher finisher(const std::function<Result()> &work, const std::function<void(Result)> &onDone,
                             const std::function<void(const QString &)> &onError);

    struct Mailbox;
    QString m_label;
    quint64 m_generation = 0;
    std::shared_ptr<std::atomic<bool>> m_cancel;
    std::shared_ptr<Mailbox> m_mailbox;
    bool m_busy = false;
};

template <typename Result>
JobSlot::Finisher JobSlot::finisher(const std::function<Result()> &work, const std::function<void(Result)> &onDone,
                                    const std::function<void(const QString &)> &onError)
{
    try {
        auto result = std::make_shared<Result>(work());
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
}

template <typename Result>
void JobSlot::start(std::function<Result(const Progress &)> work, std::function<void(Result)> onDone,
                    std::function<void(const QString &)> onError)
{
    launch([work = std::move(work), onDone = std::move(onDone),
            onError = std::move(onError)](const Progress &progress, const Poster &) -> Finisher {
        return finisher<Result>([&] { return work(progress); }, onDone, onError);
    });
}

template <typename Result, typename Partial>
void JobSlot::startStaged(std::function<Result(const Progress &, const std::function<void(Partial)> &)> work,
                          std::function<void(Partial)> onPartial, std::function<void(Result)> onDone,
                          std::function<void(const QString &)> onError)
{
    launch([work = std::move(work), onPartial = std::move(onPartial), onDone = std::move(onDone),
            onError = std::move(onError)](const Progress &progress, const Poster &post) -> Finisher {
        const std::function<void(Partial)> hand = [&post, &onPartial](Partial partial) {
            auto kept = std::make_shared<Partial>(std::move(partial));
            post([onPartial, kept] { onPartial(std::move(*kept)); });
        };
        return finisher<Result>([&] { return work(progress, hand); }, onDone, onError);
    });
}

} // namespace moescope::ui
