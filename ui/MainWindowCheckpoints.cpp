// The window's ways into several dumps at once: checkpoints of one run compared
// (File > Compare checkpoints, the bundled sample series, several files dropped) and
// one checkpoint of them chosen to show in every view.
#include "MainWindow.h"

#include "MessageBanner.h"
#include "SamplePaths.h"
#include "SelectionModel.h"
#include "views/CheckpointsView.h"

#include <QDropEvent>
#include <QFileDialog>
#include <QFileInfo>
#include <QMimeData>
#include <QSettings>

namespace moescope::ui {

void MainWindow::compareFiles(const QStringList &paths)
{
    m_banner->hide();
    m_openReference = true;
    m_checkpoints->compare(paths);
}

void MainWindow::compareDialog()
{
    QSettings settings;
    const QStringList paths = QFileDialog::getOpenFileNames(
        this, tr("Compare checkpoints of one run"), settings.value(QStringLiteral("openDirectory")).toString(),
        tr("Routing dumps (*.h5 *.hdf5 *.hdf);;All files (*)"));
    if (paths.size() == 1)
        m_banner->showError(tr("<b>Choose two or more dumps</b><br>Checkpoints are compared with each other."));
    if (paths.size() < 2)
        return;
    settings.setValue(QStringLiteral("openDirectory"), QFileInfo(paths.first()).absolutePath());
    compareFiles(paths);
}

void MainWindow::openSampleSeries(const QString &run)
{
    const QStringList paths = sampleSeries(run);
    if (paths.size() < 2) {
        m_banner->showError(tr("<b>The sample series is missing</b><br>Expected it under %1")
                                .arg((resourceDirectory() + QStringLiteral("/series")).toHtmlEscaped()));
        return;
    }
    compareFiles(paths);
}

void MainWindow::showCheckpoint(const QString &path)
{
    const Selection &s = m_selection->current();
    if (s.layer >= 0)
        m_keepSelection = s;
    openFile(path);
}

void MainWindow::dragEnterEvent(QDragEnterEvent *event)
{
    const QList<QUrl> urls = event->mimeData()->urls();
    if (!urls.isEmpty() && urls.first().isLocalFile())
        event->acceptProposedAction();
}

void MainWindow::dropEvent(QDropEvent *event)
{
    const QList<QUrl> urls = event->mimeData()->urls();
    if (urls.isEmpty() || !urls.first().isLocalFile())
        return;
    event->acceptProposedAction();
    // Several dumps dropped at once: checkpoints of one run to compare.
    QStringList paths;
    for (const QUrl &url : urls)
        if (url.isLocalFile())
            paths << url.toLocalFile();
    if (paths.size() >= 2)
        compareFiles(paths);
    else
        openFile(urls.first().toLocalFile());
}

} // namespace moescope::ui
