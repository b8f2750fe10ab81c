// MainWindow's layout: its docks, menus and status bar (MainWindow.cpp holds what the
// window does; this file only where each part sits).
#include "MainWindow.h"

#include "DumpLoader.h"
#include "Format.h"
#include "JobSlot.h"
#include "MessageBanner.h"
#include "RecentFilesMenu.h"
#include "SamplePaths.h"
#include "SelectionModel.h"
#include "export/ChartExport.h"
#include "export/ExportDialog.h"
#include "export/ReportWriter.h"
#include "io/RunLog.h"
#include "live/FollowRunPage.h"
#include "plots/LoadHeatmapPlot.h"
#include "plots/PlotWidget.h"
#include "plots/ProfilePlot.h"
#include "plots/TrainingPlot.h"
#include "plots/UtilizationPlot.h"
#include "plots/ExpertPairsPlot.h"
#include "views/CheckpointsView.h"
#include "views/ExpertPairsView.h"
#include "views/SpecialisationView.h"
#include "plots/CheckpointExpertPlot.h"
#include "plots/DomainPlot.h"
#include "plots/SaturationPlot.h"
#include "views/ExpertProfileView.h"
#include "views/OverviewView.h"
#include "views/PlacementCanvas.h"
#include "views/PlacementView.h"
#include "views/RoutingMapCanvas.h"
#include "views/RoutingMapView.h"
#include "views/TrainingView.h"
#include "views/UtilizationView.h"
#include "views/WhatIfView.h"

#include <QAction>
#include <QLineEdit>
#include <QApplication>
#include <QCloseEvent>
#include <QDockWidget>
#include <QFileDialog>
#include <QFileInfo>
#include <QLabel>
#include <QMenuBar>
#include <QMessageBox>
#include <QMimeData>
#include <QProgressBar>
#include <QScreen>
#include <QSettings>
#include <QStackedWidget>
#include <QStatusBar>
#include <QToolBar>
#include <QToolButton>
#include <QVBoxLayout>

namespace moescope::ui {

namespace {

QDockWidget *dock(QMainWindow *window, const QString &title, const QString &objectName, QWidget *content)
{
    auto *d = new QDockWidget(title, window);
    d->setObjectName(objectName);
    d->setWidget(content);
    d->setFeatures(QDockWidget::DockWidgetMovable | QDockWidget::DockWidgetFloatable | QDockWidget::DockWidgetClosable);
    return d;
}
} // namespace

void MainWindow::createDocks()
{
    auto *utilization = dock(this, tr("Utilization"), QStringLiteral("utilizationDock"), m_utilization);
    auto *training = dock(this, tr("Training"), QStringLiteral("trainingDock"), m_training);
    auto *whatIf = dock(this, tr("What-if"), QStringLiteral("whatIfDock"), m_whatIf);
    auto *pairs = dock(this, tr("Expert pairs"), QStringLiteral("pairsDock"), m_pairs);
    connect(pairs, &QDockWidget::visibilityChanged, m_pairs, &ExpertPairsView::setOnScreen);
    auto *profile = dock(this, tr("Expert profile"), QStringLiteral("profileDock"), m_profile);
    auto *routing = dock(this, tr("Routing map"), QStringLiteral("routingDock"), m_routingMap);
    auto *placement = dock(this, tr("Placement"), QStringLiteral("placementDock"), m_placement);
    auto *specialisation = dock(this, tr("Specialisation"), QStringLiteral("specialisationDock"), m_specialisation);
    m_checkpointsDock = dock(this, tr("Checkpoints"), QStringLiteral("checkpointsDock"), m_checkpoints);
    addDockWidget(Qt::RightDockWidgetArea, utilization);
    addDockWidget(Qt::RightDockWidgetArea, profile);
    splitDockWidget(utilization, profile, Qt::Horizontal);
    tabifyDockWidget(utilization, training);
    tabifyDockWidget(utilization, pairs);
    tabifyDockWidget(utilization, whatIf);
    tabifyDockWidget(utilization, specialisation);
    tabifyDockWidget(utilization, m_checkpointsDock);
    utilization->raise();
    addDockWidget(Qt::BottomDockWidgetArea, routing);
    addDockWidget(Qt::BottomDockWidgetArea, placement);
    tabifyDockWidget(routing, placement);
    routing->raise();
    m_viewMenu = new QMenu(tr("&View"), this);
    // Ctrl+1 .. Ctrl+9 bring a view to the front (shown again if it was closed);
    // below them, the usual check boxes to show or hide each.
    const QList<QDockWidget *> docks = {utilization, pairs,          training,          whatIf,   profile,
                                        routing,     specialisation, m_checkpointsDock, placement};
    for (int i = 0; i < docks.size(); ++i) {
        QDockWidget *d = docks[i];
        QAction *front = m_viewMenu->addAction(tr("Go to %1").arg(d->windowTitle()), this, [d] {
            d->show();
            d->raise();
            d->widget()->setFocus(Qt::ShortcutFocusReason);
        });
        front->setShortcut(QKeySequence(Qt::CTRL | Qt::Key(Qt::Key_1 + i)));
        front->setObjectName(d->objectName() + QStringLiteral("Front"));
    }
    QAction *find = m_viewMenu->addAction(tr("&Find token..."), this, [this, profile] {
        profile->show();
        profile->raise();
        m_profile->searchBox()->setFocus(Qt::ShortcutFocusReason);
        m_profile->searchBox()->selectAll();
    });
    find->setShortcut(QKeySequence::Find);
    m_viewMenu->addSeparator();
    for (QDockWidget *d : docks)
        m_viewMenu->addAction(d->toggleViewAction());
    resizeDocks({utilization, profile}, {560, 420}, Qt::Horizontal);
    resizeDocks({routing}, {330}, Qt::Vertical);
}

void MainWindow::createMenus()
{
    QMenu *file = menuBar()->addMenu(tr("&File"));
    QAction *open = file->addAction(tr("&Open..."), this, &MainWindow::openDialog);
    open->setShortcut(QKeySequence::Open);
    QMenu *samples = file->addMenu(tr("Open &sample"));
    samples->addAction(tr("&Balanced router"), this, [this] { openSample(balancedSamplePath()); });
    samples->addAction(tr("&Collapsed router"), this, [this] { openSample(collapsedSamplePath()); });
    file->addAction(tr("&Import..."), this, &MainWindow::showImportDialog)
        ->setToolTip(tr("Open another tool's routing record (Megatron-Core, ...) as a dump"));
    file->addAction(tr("&Follow run..."), this, [this] {
        if (const QString path = FollowRunPage::askForRunLog(this); !path.isEmpty())
            followRun(path);
    });
    QMenu *series = file->addMenu(tr("Open sample se&ries"));
    series->addAction(tr("&Balanced run (checkpoints)"), this, [this] { openSampleSeries(QStringLiteral("balanced")); });
    series->addAction(tr("&Collapsing run (checkpoints)"), this, [this] { openSampleSeries(QStringLiteral("collapsed")); });
    file->addAction(tr("Compare &checkpoints..."), this, &MainWindow::compareDialog);
    m_recent = new RecentFilesMenu(file->addMenu(tr("Open &recent")));
    connect(m_recent, &RecentFilesMenu::openRequested, this, &MainWindow::openFile);
    QAction *cache = file->addAction(tr("Remember &summaries"), m_loader, &DumpLoader::setUseCache);
    cache->setCheckable(true);
    cache->setChecked(m_loader->usesCache());
    cache->setToolTip(tr("Keep each dump's overview in your cache folder, so opening it again shows the overview at once"));
    file->addSeparator();
    QMenu *exportMenu = file->addMenu(tr("&Export chart"));
    const QList<QPair<QString, ChartSource *>> exportable = {
        {tr("&Overview heatmap..."), m_overview->heatmap()},
        {tr("&Utilization histogram..."), m_utilization->plot()},
        {tr("&Routing map..."), m_routingMap->canvas()},
        {tr("Expert &profile..."), m_profile->plot()},
        {tr("&Training health..."), m_training->plot()},
        {tr("Expert pairs (co-activation or &transitions)..."), m_pairs->plot()},
        {tr("Expert-parallel p&lacement..."), m_placement->canvas()},
        {tr("&Domain specialisation..."), m_specialisation->plot()},
        {tr("Checkpoint &saturation..."), m_checkpoints->saturation()},
        {tr("Checkpoints: selected &expert..."), m_checkpoints->expertPlot()},
        {tr("Checkpoints: &load change..."), m_checkpoints->loadChange()}};
    for (const auto &[title, chart] : exportable) {
        QAction *a = exportMenu->addAction(title, this, [this, chart = chart] { exportChartInteractively(chart); });
        m_needsDump << a;
    }
    QAction *report = file->addAction(tr("Export &report (PDF)..."), this, &MainWindow::exportReport);
    m_needsDump << report;
    file->addSeparator();
    QAction *quit = file->addAction(tr("&Quit"), this, &QWidget::close);
    quit->setShortcut(QKeySequence::Quit);

    QMenu *go = menuBar()->addMenu(tr("&Go"));
    go->addAction(m_selection->backAction());
    go->addAction(m_selection->forwardAction());
    menuBar()->addMenu(m_viewMenu);

    QMenu *help = menuBar()->addMenu(tr("&Help"));
    help->addAction(tr("&About MoE Scope"), this, [this] {
        QMessageBox::about(this, tr("About MoE Scope"),
                           tr("<b>MoE Scope</b> %1<br>Is the router healthy, and what did each expert learn?<br>"
                              "Open a routing dump (HDF5) of a Mixture-of-Experts checkpoint.")
                               .arg(QApplication::applicationVersion()));
    });

    QToolBar *toolbar = addToolBar(tr("Navigation"));
    toolbar->setObjectName(QStringLiteral("navigationToolBar"));
    toolbar->setMovable(false);
    toolbar->addAction(open);
    toolbar->addSeparator();
    toolbar->addAction(m_selection->backAction());
    toolbar->addAction(m_selection->forwardAction());
    for (QAction *a : m_needsDump)
        a->setEnabled(false);
}

void MainWindow::createStatusBar()
{
    m_progress->setRange(0, 1000);
    m_progress->setMaximumWidth(180);
    m_progress->setTextVisible(false);
    m_progress->hide();
    m_cancel->setText(tr("Cancel"));
    m_cancel->setAutoRaise(true);
    m_cancel->hide();
    m_jobLabel->hide();
    connect(m_cancel, &QToolButton::clicked, this, [this] {
        if (m_activeJob)
            m_activeJob->cancel();
    });
    statusBar()->addPermanentWidget(m_selectionLabel);
    statusBar()->addPermanentWidget(m_summaryLabel);
    statusBar()->addPermanentWidget(m_jobLabel);
    statusBar()->addPermanentWidget(m_progress);
    statusBar()->addPermanentWidget(m_cancel);
}

} // namespace moescope::ui
