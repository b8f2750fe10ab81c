#include "MainWindow.h"

#include "DumpLoader.h"
#include "Format.h"
#include "ImportDialog.h"
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


MainWindow::MainWindow(QWidget *parent)
    : QMainWindow(parent),
      m_selection(new SelectionModel(this)),
      m_loader(new DumpLoader(this)),
      m_banner(new MessageBanner(this)),
      m_center(new QStackedWidget(this)),
      m_placeholder(new QLabel(this)),
      m_overview(new OverviewView(m_selection, this)),
      m_utilization(new UtilizationView(m_selection, this)),
      m_routingMap(new RoutingMapView(m_selection, this)),
      m_profile(new ExpertProfileView(m_selection, this)),
      m_training(new TrainingView(m_selection, this)),
      m_whatIf(new WhatIfView(m_selection, this)),
      m_pairs(new ExpertPairsView(m_selection, this)),
      m_placement(new PlacementView(m_selection, this)),
      m_follow(new FollowRunPage(this)),
      m_checkpoints(new CheckpointsView(m_selection, this)),
      m_specialisation(new SpecialisationView(m_selection, this)),
      m_summaryLabel(new QLabel(this)),
      m_selectionLabel(new QLabel(this)),
      m_jobLabel(new QLabel(this)),
      m_progress(new QProgressBar(this)),
      m_cancel(new QToolButton(this)),
      m_reportJob(new JobSlot(tr("Report"), this))
{
    setWindowTitle(tr("MoE Scope"));
    setAcceptDrops(true);
    setDockNestingEnabled(true);

    m_placeholder->setAlignment(Qt::AlignCenter);
    m_placeholder->setWordWrap(true);
    m_placeholder->setStyleSheet(QStringLiteral("color: #666; font-size: 13pt; padding: 40px"));
    m_placeholder->setText(tr("Open a routing dump (File > Open, Ctrl+O) or drop one here.\n\n"
                              "File > Open sample shows a balanced and a collapsed router."));
    m_center->addWidget(m_placeholder);
    m_center->addWidget(m_overview);
    m_center->addWidget(m_follow);
    auto *central = new QWidget(this);
    auto *centralLayout = new QVBoxLayout(central);
    centralLayout->setContentsMargins(4, 4, 4, 0);
    centralLayout->addWidget(m_banner);
    centralLayout->addWidget(m_center, 1);
    setCentralWidget(central);

    createDocks();
    createMenus();
    createStatusBar();
    trackJob(m_loader->job());
    trackJob(m_profile->profileJob());
    trackJob(m_profile->searchJob());
    trackJob(m_whatIf->job());
    trackJob(m_pairs->job());
    trackJob(m_placement->job());
    trackJob(m_reportJob);
    trackJob(m_checkpoints->job());
    connect(m_checkpoints, &CheckpointsView::checkpointChosen, this, &MainWindow::showCheckpoint);
    connect(m_checkpoints, &CheckpointsView::comparisonFailed, this, [this](const QString &message) {
        m_banner->showError(tr("<b>Could not compare the checkpoints</b><br>%1").arg(message.toHtmlEscaped()));
    });
    connect(m_checkpoints, &CheckpointsView::comparisonShown, this, [this] {
        m_checkpointsDock->show();
        m_checkpointsDock->raise();
        const CheckpointComparisonPtr c = m_checkpoints->comparison();
        if (m_openReference && c)
            openFile(QString::fromStdString(c->files[c->reference]));
        m_openReference = false;
    });

    connect(m_loader, &DumpLoader::opened, this, &MainWindow::showSummary);
    connect(m_loader, &DumpLoader::loaded, this, &MainWindow::showSnapshot);
    connect(m_loader, &DumpLoader::layerAnalysed, this, [this](const DumpSnapshotPtr &partial, int done, int all) {
        // The overview fills in layer by layer; the other views keep the dump they show
        // until the whole analysis is there.
        const bool first = !m_overview->snapshot() || !m_overview->snapshot()->partial;
        m_overview->setSnapshot(partial);
        if (first) // once: the user may look elsewhere while the rest loads
            m_center->setCurrentWidget(m_overview);
        statusBar()->showMessage(tr("Analysed %1 of %2 layers").arg(done).arg(all), 2000);
    });
    connect(m_loader->job(), &JobSlot::cancelled, this, [this] {
        if (m_overview->snapshot() != m_snapshot)
            m_overview->setSnapshot(m_snapshot);
    });
    connect(m_loader, &DumpLoader::failed, this, [this](const QString &path, const QString &message) {
        if (message.contains(QStringLiteral("'/tokens' is missing")) || message.contains(QStringLiteral("'/layers' is missing")))
            return followRun(path); // a run log (only /training): follow it instead
        if (m_overview->snapshot() != m_snapshot)
            m_overview->setSnapshot(m_snapshot); // back from a partial dump to the one shown
        m_banner->showError(tr("<b>Could not open %1</b><br>%2")
                                .arg(QFileInfo(path).fileName().toHtmlEscaped(), message.toHtmlEscaped()));
        statusBar()->showMessage(tr("Could not open %1").arg(path), 8000);
        if (m_snapshot) // the previous dump stays on screen: say so in the title again
            showSummary(m_snapshot->path, m_snapshot->info());
        emit openFailed(path, message);
    });
    connect(m_selection, &SelectionModel::changed, this, &MainWindow::showSelectionText);
    m_follow->connectTo(m_training, m_selection, m_summaryLabel, m_banner);

    // Charts ask for their own export from their context menus.
    for (ChartSource *chart : charts()) {
        if (auto *plot = dynamic_cast<PlotWidget *>(chart))
            connect(plot, &PlotWidget::exportRequested, this, [this, chart] { exportChartInteractively(chart); });
    }
    connect(m_routingMap->canvas(), &RoutingMapCanvas::exportRequested, this,
            [this] { exportChartInteractively(m_routingMap->canvas()); });
    connect(m_placement->canvas(), &PlacementCanvas::exportRequested, this,
            [this] { exportChartInteractively(m_placement->canvas()); });

    restoreSettings();
}

MainWindow::~MainWindow() = default;

QList<ChartSource *> MainWindow::charts() const
{
    return {m_overview->heatmap(), m_utilization->plot(), m_routingMap->canvas(), m_profile->plot(),
            m_training->plot(), m_pairs->plot(), m_placement->canvas(), m_specialisation->plot(), m_checkpoints->saturation(),
            m_checkpoints->expertPlot(), m_checkpoints->loadChange()};
}

void MainWindow::trackJob(JobSlot *job)
{
    connect(job, &JobSlot::busyChanged, this, [this, job](bool busy) {
        // The status bar shows the most recently started of the running jobs.
        m_busyJobs.removeAll(job);
        if (busy)
            m_busyJobs.append(job);
        m_activeJob = m_busyJobs.isEmpty() ? nullptr : m_busyJobs.last();
        const bool show = m_activeJob != nullptr;
        m_progress->setVisible(show);
        m_cancel->setVisible(show);
        m_jobLabel->setVisible(show);
        if (show) {
            m_jobLabel->setText(m_activeJob->label());
            m_progress->setValue(0);
        }
    });
    connect(job, &JobSlot::progressChanged, this, [this, job](double fraction) {
        if (job == m_activeJob)
            m_progress->setValue(int(fraction * 1000));
    });
}

void MainWindow::openFile(const QString &path)
{
    m_banner->hide();
    if (hdf5FileOpenForWriting(path.toStdString()))
        return followRun(path); // being written: a run log to follow, not a dump to load
    m_follow->stop();
    statusBar()->showMessage(tr("Opening %1...").arg(path));
    m_loader->open(path);
}

void MainWindow::followRun(const QString &path)
{
    m_banner->hide();
    m_loader->cancel();
    m_selection->reset(Selection{0, -1, -1, -1}); // layer 0, nothing else
    m_follow->follow(path);
    m_center->setCurrentWidget(m_follow);
    if (auto *training = findChild<QDockWidget *>(QStringLiteral("trainingDock"))) {
        training->show();
        training->raise();
    }
    setWindowTitle(tr("Following %1 - MoE Scope").arg(QFileInfo(path).fileName()));
    m_recent->add(path);
}

void MainWindow::openDialog()
{
    QSettings settings;
    const QString dir = settings.value(QStringLiteral("openDirectory")).toString();
    const QString path = QFileDialog::getOpenFileName(this, tr("Open routing dump"), dir,
                                                      tr("Routing dumps (*.h5 *.hdf5 *.hdf);;All files (*)"));
    if (path.isEmpty())
        return;
    settings.setValue(QStringLiteral("openDirectory"), QFileInfo(path).absolutePath());
    openFile(path);
}

ImportDialog *MainWindow::showImportDialog()
{
    auto *dialog = new ImportDialog(this);
    dialog->setAttribute(Qt::WA_DeleteOnClose);
    connect(dialog, &QDialog::accepted, this, [this, dialog] {
        const QString out = dialog->outputPath();
        const QStringList warnings = dialog->warnings();
        openFile(out);
        if (!warnings.isEmpty())
            m_banner->showInfo(tr("Imported as %1. %2").arg(QFileInfo(out).fileName().toHtmlEscaped(), warnings.join(" ").toHtmlEscaped()));
    });
    dialog->open();
    return dialog;
}

void MainWindow::openSample(const QString &path)
{
    if (!QFileInfo::exists(path)) {
        m_banner->showError(tr("<b>The sample dump is missing</b><br>Expected it at %1").arg(path.toHtmlEscaped()));
        return;
    }
    openFile(path);
}

void MainWindow::showSummary(const QString &path, const DumpInfo &info)
{
    QStringList parts;
    if (!info.model.empty())
        parts << QString::fromStdString(info.model);
    if (!info.checkpoint.empty())
        parts << QString::fromStdString(info.checkpoint);
    if (info.checkpointStep)
        parts << tr("step %1").arg(*info.checkpointStep);
    const QString name = QFileInfo(path).fileName();
    setWindowTitle(parts.isEmpty() ? tr("%1 - MoE Scope").arg(name)
                                   : tr("%1 - %2 - MoE Scope").arg(parts.join(QStringLiteral(" \u00b7 ")), name));
    m_summaryLabel->setText(tr("T %1 \u00b7 E %2 \u00b7 k %3 \u00b7 %4 layers \u00b7 %5")
                                .arg(formatCount(info.numTokens))
                                .arg(info.numExperts)
                                .arg(info.topK)
                                .arg(info.layers.size())
                                .arg(QString::fromLatin1(scoringName(info.scoring))));
    m_summaryLabel->setToolTip(QString::fromStdString(info.path));
    m_recent->add(path);
}

void MainWindow::showSnapshot(const DumpSnapshotPtr &snapshot)
{
    m_snapshot = snapshot;
    Selection initial;
    initial.layer = 0;
    initial.expert = snapshot->numLayers() > 0 ? snapshot->busiestExpert(0) : 0;
    // Another checkpoint of the same run keeps the layer and expert in view.
    if (m_keepSelection && m_keepSelection->layer < snapshot->numLayers() &&
        m_keepSelection->expert < snapshot->numExperts()) {
        initial.layer = m_keepSelection->layer;
        initial.expert = m_keepSelection->expert;
    }
    m_keepSelection.reset();
    m_selection->reset(initial);
    // A load-only dump (counts, no per-token choices) feeds the views that work from
    // counts; the ones that need each token's choices stay empty and the note says why.
    const bool loadOnly = snapshot->info().anyLoadOnly();
    const DumpSnapshotPtr perToken = loadOnly ? DumpSnapshotPtr() : snapshot;
    m_overview->setSnapshot(snapshot);
    m_utilization->setSnapshot(snapshot);
    m_routingMap->setSnapshot(perToken);
    m_routingMap->canvas()->setEmptyText(
        loadOnly ? tr("A load-only dump: it holds counts per expert, not which token went where") : QString());
    m_profile->setSnapshot(perToken);
    m_training->setSnapshot(snapshot);
    m_whatIf->setSnapshot(perToken);
    m_pairs->setSnapshot(perToken);
    m_placement->setSnapshot(snapshot); // from counts; the all-to-all only with choices
    m_specialisation->setSnapshot(perToken);
    m_checkpoints->setSnapshot(snapshot);
    m_center->setCurrentWidget(m_overview);
    for (QAction *a : m_needsDump)
        a->setEnabled(true);
    showSummary(snapshot->path, snapshot->info());
    if (const auto wrong = storedCountsWarnings(snapshot->info(), snapshot->analysis.report); !wrong.empty()) {
        QStringList lines;
        for (const std::string &w : wrong)
            lines << QString::fromStdString(w).toHtmlEscaped();
        m_banner->showError(tr("<b>The dump contradicts itself</b><br>%1").arg(lines.join(QStringLiteral("<br>"))));
    } else if (loadOnly) {
        m_banner->showInfo(tr("<b>Load-only dump</b><br>It holds how many tokens chose each expert, not which "
                              "token chose which: utilization, overview and training curves are shown; the "
                              "placement works from the counts without the all-to-all; the routing map, expert "
                              "profiles, pairs and what-if need each token's choices and stay empty."));
    } else if (!snapshot->info().warnings.empty()) {
        QStringList warnings;
        for (const std::string &w : snapshot->info().warnings)
            warnings << QString::fromStdString(w).toHtmlEscaped();
        m_banner->showInfo(tr("<b>Note</b><br>%1").arg(warnings.join(QStringLiteral("<br>"))));
    }
    statusBar()->showMessage(tr("Opened %1").arg(snapshot->path), 5000);
    emit dumpShown(snapshot->path);
}

void MainWindow::showSelectionText()
{
    const Selection &s = m_selection->current();
    if (!m_snapshot || s.layer < 0) {
        m_selectionLabel->clear();
        return;
    }
    QString text = tr("layer %1").arg(m_snapshot->layerName(s.layer));
    if (s.expert >= 0)
        text += tr(" \u00b7 expert %1").arg(s.expert);
    if (s.tokenId >= 0)
        text += tr(" \u00b7 token \u201c%1\u201d").arg(m_snapshot->tokenIdDisplay(s.tokenId));
    if (s.position >= 0)
        text += tr(" @ %1").arg(formatCount(s.position));
    m_selectionLabel->setText(text);
}

QStringList MainWindow::recentFiles() const { return m_recent->files(); }

void MainWindow::exportChartInteractively(ChartSource *chart)
{
    if (!m_snapshot || !chart->hasChartData()) {
        statusBar()->showMessage(tr("Nothing to export yet"), 4000);
        return;
    }
    QSettings settings;
    const QString directory = settings.value(QStringLiteral("export/directory"), QDir::homePath()).toString();
    QSize size = chart->defaultExportSize();
    if (auto *widget = dynamic_cast<QWidget *>(chart); widget && widget->isVisible() && chart->chartName() != u"overview")
        size = widget->size().expandedTo(QSize(640, 360));
    ExportDialog dialog(chart->chartName(), size, directory, this);
    if (dialog.exec() != QDialog::Accepted)
        return;
    const QString path = dialog.path();
    settings.setValue(QStringLiteral("export/directory"), QFileInfo(path).absolutePath());
    const QString error = exportChart(*chart, path, dialog.options());
    if (error.isEmpty())
        statusBar()->showMessage(tr("Exported %1").arg(path), 6000);
    else
        m_banner->showError(tr("<b>Export failed</b><br>%1").arg(error.toHtmlEscaped()));
}

void MainWindow::exportReport()
{
    if (!m_snapshot)
        return;
    QSettings settings;
    const QString directory = settings.value(QStringLiteral("export/directory"), QDir::homePath()).toString();
    const QString path = QFileDialog::getSaveFileName(this, tr("Export report"),
                                                      QDir(directory).filePath(QStringLiteral("moescope-report.pdf")),
                                                      tr("PDF document (*.pdf)"));
    if (path.isEmpty())
        return;
    settings.setValue(QStringLiteral("export/directory"), QFileInfo(path).absolutePath());
    const DumpSnapshotPtr snapshot = m_snapshot;
    const int layer = std::max(0, m_selection->current().layer);
    const std::int64_t sequence = m_routingMap->canvas()->sequence();
    // The profiles scan every token, the placement every choice: background. Drawing
    // the pages uses the chart widgets and so happens back on the GUI thread. The
    // placement is the one the Placement view shows, else the default one.
    const std::shared_ptr<const PlacementComparison> shownPlacement = m_placement->canvas()->parameters().data;
    const CheckpointComparisonPtr checkpoints = m_checkpoints->comparison();
    m_reportJob->setLabel(tr("Report"));
    m_reportJob->start<ReportContent>(
        [snapshot, layer, sequence, shownPlacement, checkpoints](const Progress &progress) {
            ReportContent content{snapshot, layer, sequence, {}, shownPlacement, checkpoints};
            content.profiles = busiestExpertProfiles(*snapshot, layer, kReportProfiles, progress.part(0, 0.8));
            if (!content.placement)
                content.placement = std::make_shared<const PlacementComparison>(
                    comparePlacements(*snapshot, defaultPlacementRequest(snapshot->numExperts()), progress.part(0.8, 1)));
            return content;
        },
        [this, path](ReportContent content) {
            const QString error = writeReport(content, path);
            if (error.isEmpty())
                statusBar()->showMessage(tr("Wrote report %1").arg(path), 6000);
            else
                m_banner->showError(tr("<b>Report failed</b><br>%1").arg(error.toHtmlEscaped()));
        },
        [this](const QString &message) { m_banner->showError(tr("<b>Report failed</b><br>%1").arg(message.toHtmlEscaped())); });
}

void MainWindow::restoreSettings()
{
    QSettings settings;
    if (!restoreGeometry(settings.value(QStringLiteral("window/geometry")).toByteArray())) {
        const QRect available = screen() ? screen()->availableGeometry() : QRect(0, 0, 1600, 1000);
        resize(std::min(1560, available.width() - 40), std::min(980, available.height() - 40));
    }
    restoreState(settings.value(QStringLiteral("window/state")).toByteArray());
}

void MainWindow::closeEvent(QCloseEvent *event)
{
    QSettings settings;
    settings.setValue(QStringLiteral("window/geometry"), saveGeometry());
    settings.setValue(QStringLiteral("window/state"), saveState());
    m_loader->cancel();
    QMainWindow::closeEvent(event);
}

} // namespace moescope::ui
