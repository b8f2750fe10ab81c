#pragma once
// The desktop window: linked views of one dump around one shared selection.
// The overview sits in the middle; the histogram, training and what-if pages, the
// expert profile, the routing map and the placement are docks whose arrangement is remembered
// (QSettings), as are the window geometry and the recent files. Files open from the
// File menu, by drag and drop, or from the command line; opening and every long
// computation run in the background with progress and cancel in the status bar.
#include "DumpSnapshot.h"
#include "Selection.h"

#include <QMainWindow>

#include <optional>

class QDockWidget;
class QLabel;
class QMenu;
class QProgressBar;
class QStackedWidget;
class QToolButton;

namespace moescope::ui {

class ChartSource;
class DumpLoader;
class ExpertProfileView;
class FollowRunPage;
class JobSlot;
class MessageBanner;
class ImportDialog;
class OverviewView;
class RecentFilesMenu;
class RoutingMapView;
class SelectionModel;
class TrainingView;
class UtilizationView;
class WhatIfView;
class ExpertPairsView;
class PlacementView;
class CheckpointsView;
class SpecialisationView;

class MainWindow : public QMainWindow {
    Q_OBJECT
public:
    explicit MainWindow(QWidget *parent = nullptr);
    ~MainWindow() override;

    void openFile(const QString &path);
    // File > Import...: another tool's record made into a dump, then opened (the
    // dialog is returned for tests; it deletes itself when closed).
    ImportDialog *showImportDialog();
    // Follows a run log as a training job writes it (File > Follow run, or opening a
    // file that is being written): the training view grows, alerts show on the page.
    void followRun(const QString &path);
    FollowRunPage *followPage() const { return m_follow; }
    DumpSnapshotPtr snapshot() const { return m_snapshot; }
    SelectionModel *selection() const { return m_selection; }
    DumpLoader *loader() const { return m_loader; }
    OverviewView *overview() const { return m_overview; }
    UtilizationView *utilization() const { return m_utilization; }
    RoutingMapView *routingMap() const { return m_routingMap; }
    ExpertProfileView *profile() const { return m_profile; }
    TrainingView *training() const { return m_training; }
    WhatIfView *whatIf() const { return m_whatIf; }
    ExpertPairsView *pairs() const { return m_pairs; }
    PlacementView *placement() const { return m_placement; }
    CheckpointsView *checkpoints() const { return m_checkpoints; }
    SpecialisationView *specialisation() const { return m_specialisation; }
    // Checkpoints of one run: compares them in the Checkpoints view and shows the
    // reference (the highest step) in the other views.
    void compareFiles(const QStringList &paths);
    MessageBanner *banner() const { return m_banner; }
    QStringList recentFiles() const;
    // Every exportable chart, by its CLI name.
    QList<ChartSource *> charts() const;

signals:
    void dumpShown(const QString &path);
    void openFailed(const QString &path, const QString &message);

protected:
    void closeEvent(QCloseEvent *event) override;
    void dragEnterEvent(QDragEnterEvent *event) override;
    void dropEvent(QDropEvent *event) override;

private:
    void createMenus();
    void createDocks();
    void createStatusBar();
    void trackJob(JobSlot *job);
    void showSnapshot(const DumpSnapshotPtr &snapshot);
    void showSummary(const QString &path, const DumpInfo &info);
    void showSelectionText();
    void openDialog();
    void openSample(const QString &path);
    void compareDialog();
    void openSampleSeries(const QString &run);
    void showCheckpoint(const QString &path);
    void exportChartInteractively(ChartSource *chart);
    void exportReport();
    void restoreSettings();

    SelectionModel *m_selection;
    DumpLoader *m_loader;
    DumpSnapshotPtr m_snapshot;
    MessageBanner *m_banner;
    QStackedWidget *m_center;
    QLabel *m_placeholder;
    OverviewView *m_overview;
    UtilizationView *m_utilization;
    RoutingMapView *m_routingMap;
    ExpertProfileView *m_profile;
    TrainingView *m_training;
    WhatIfView *m_whatIf;
    ExpertPairsView *m_pairs;
    PlacementView *m_placement;
    FollowRunPage *m_follow;
    CheckpointsView *m_checkpoints;
    SpecialisationView *m_specialisation;
    QDockWidget *m_checkpointsDock = nullptr;
    // A checkpoint chosen in the Checkpoints view opens with the layer and expert kept.
    std::optional<Selection> m_keepSelection;
    bool m_openReference = false; // a new comparison shows its reference when done
    RecentFilesMenu *m_recent = nullptr;
    QMenu *m_viewMenu = nullptr;
    QLabel *m_summaryLabel;
    QLabel *m_selectionLabel;
    QLabel *m_jobLabel;
    QProgressBar *m_progress;
    QToolButton *m_cancel;
    JobSlot *m_activeJob = nullptr;
    QList<JobSlot *> m_busyJobs;
    JobSlot *m_reportJob;
    QList<QAction *> m_needsDump;
};

} // namespace moescope::ui
