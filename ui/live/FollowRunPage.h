#pragma once
// The window's page for a run log being written: polls it in the background (a
// JobSlot on the shared job pool, one poll at a time, every second by default; the
// GUI thread never touches the file), hands the growing, binned series to the
// training view, shows each layer's health at the newest step, says how fresh the
// data is ("following: step N, m s ago", "writer stopped?") and raises an alert
// banner naming the layer, the step the streak began and the condition; a click on
// the banner (or a row) selects that layer.
#include "DumpSnapshot.h"
#include "LiveRunState.h"

#include <QElapsedTimer>
#include <QTimer>
#include <QWidget>

#include <memory>

class QLabel;
class QPushButton;
class QTableWidget;

namespace moescope::ui {

class JobSlot;
class MessageBanner;
class SelectionModel;
class TrainingView;

class FollowRunPage : public QWidget {
    Q_OBJECT
public:
    explicit FollowRunPage(QWidget *parent = nullptr);
    ~FollowRunPage() override;

    // Feeds the training view, selects layers, shows the status in `status` and
    // messages in `banner`.
    void connectTo(TrainingView *training, SelectionModel *selection, QLabel *status, MessageBanner *banner);
    // File > Follow run's dialog; "" when the user cancels.
    static QString askForRunLog(QWidget *parent);
    void follow(const QString &path);
    void stop();
    bool isFollowing() const { return bool(m_state); }
    QString path() const { return m_path; }
    QString statusText() const;
    const LivePoll &lastPoll() const { return m_last; }
    QPushButton *alertButton() const { return m_alert; }
    QTableWidget *table() const { return m_table; }
    // For tests: how often to poll, and after how long without a step (at least five
    // times the usual time between steps) to ask whether the writer stopped.
    void setPollInterval(int ms) { m_poll.setInterval(ms); }
    void setStalledAfter(int ms) { m_stalledAfterMs = ms; }

signals:
    void snapshotChanged(const DumpSnapshotPtr &snapshot); // the binned series grew
    void polled();                                         // after every poll's news was shown
    void statusChanged(const QString &text);
    void layerRequested(int layer);
    void message(const QString &html); // something to tell the user (a file replaced)
    void failed(const QString &html);  // the file cannot be followed

private:
    void pollNow();
    void show(LivePoll poll);
    void showTable();
    void updateStatus();

    QString m_path;
    std::shared_ptr<LiveRunState> m_state;
    JobSlot *m_job;
    QTimer m_poll, m_clock;
    QElapsedTimer m_sinceNews;
    int m_stalledAfterMs = 20000; // or five typical gaps between steps, if longer
    double m_typicalGapMs = 0;
    LivePoll m_last;
    bool m_errorShown = false;
    QLabel *m_title;
    QPushButton *m_alert;
    QTableWidget *m_table;
};

} // namespace moescope::ui
