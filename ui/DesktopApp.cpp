#include "DesktopApp.h"

#include "Engines.h"

#include "DumpLoader.h"
#include "MainWindow.h"
#include "SamplePaths.h"

#include <QApplication>
#include <QDateTime>
#include <QElapsedTimer>
#include <QFileInfo>
#include <QIcon>
#include <QThread>
#include <QThreadPool>
#include <QTimer>

#include <iostream>
#include <string_view>

namespace moescope::ui {

namespace {

// MOESCOPE_TIMING=1 prints to stderr the milliseconds from start to the window's
// first paint, to the first paint showing the dump's first layer (the overview fills
// in while the rest loads), to the one showing every layer's overview, and to the
// first paint showing the analysed dump. For measurement only.
// MOESCOPE_TIMING=<epoch ms> (say `date +%s%3N` just before launching) also counts
// from then, which includes loading the program and its libraries. With
// MOESCOPE_TIMING_EXIT=1 the window closes once the analysed dump is shown (the scale
// benchmark runs it so).
class PaintTimer : public QObject {
public:
    PaintTimer(QWidget *window, QElapsedTimer clock) : m_window(window), m_clock(clock) {}
    void dumpShown() { m_waitingForData = true; }
    void firstLayerShown() { m_waitingForLayer = true; }
    void allLayersShown() { m_waitingForAllLayers = true; }

protected:
    bool eventFilter(QObject *watched, QEvent *event) override
    {
        if (event->type() == QEvent::Paint && watched->isWidgetType() &&
            static_cast<QWidget *>(watched)->window() == m_window) {
            if (!m_firstPaint) {
                m_firstPaint = true;
                report("first paint");
            } else if (m_waitingForLayer) {
                m_waitingForLayer = false;
                report("first layer shown");
                if (m_waitingForAllLayers) { // the same paint shows them all (the summary cache)
                    m_waitingForAllLayers = false;
                    report("all layers shown");
                }
            } else if (m_waitingForAllLayers) {
                m_waitingForAllLayers = false;
                report("all layers shown");
            } else if (m_waitingForData) {
                m_waitingForData = false;
                report("dump shown");
            }
        }
        return false;
    }

private:
    void report(const char *what)
    {
        // After the paint in progress: the frame is complete when the event loop returns.
        const qint64 ms = m_clock.elapsed();
        const qint64 launched = qEnvironmentVariable("MOESCOPE_TIMING").toLongLong();
        const qint64 sinceLaunch = launched > 1'000'000'000'000LL ? QDateTime::currentMSecsSinceEpoch() - launched : -1;
        const std::string_view said(what);
        m_seenAllLayers = m_seenAllLayers || said == "all layers shown";
        m_seenDump = m_seenDump || said == "dump shown";
        const bool quit = m_seenAllLayers && m_seenDump && qEnvironmentVariable("MOESCOPE_TIMING_EXIT") == QLatin1String("1");
        QTimer::singleShot(0, [what, ms, sinceLaunch, quit] {
            std::cerr << "moescope timing: " << what << " " << ms << " ms";
            if (sinceLaunch >= 0)
                std::cerr << " (" << sinceLaunch << " ms since launch)";
            std::cerr << "\n";
            if (quit)
                QCoreApplication::quit();
        });
    }

    QWidget *m_window;
    QElapsedTimer m_clock;
    bool m_firstPaint = false;
    bool m_waitingForData = false;
    bool m_waitingForLayer = false;
    bool m_waitingForAllLayers = false;
    bool m_seenAllLayers = false, m_seenDump = false;
};

} // namespace

void setApplicationNames()
{
    QApplication::setApplicationName(QStringLiteral("MoE Scope"));
    QApplication::setOrganizationName(QStringLiteral("MoEScope"));
    QApplication::setApplicationVersion(QStringLiteral(MOESCOPE_VERSION));
    // The installed .desktop entry and icon carry this id: desktops match the window to them.
    QGuiApplication::setDesktopFileName(QStringLiteral("io.moescope.MoEScope"));
}

int runDesktopApp(int argc, char **argv)
{
    QElapsedTimer clock;
    clock.start();
    QApplication app(argc, argv);
    setApplicationNames();
    QApplication::setWindowIcon(QIcon::fromTheme(QStringLiteral("io.moescope.MoEScope")));

    const QStringList args = QApplication::arguments();
    QString path;
    if (args.size() >= 2)
        path = args.at(1);
    else if (QFileInfo::exists(balancedSamplePath()))
        path = balancedSamplePath();

    int status = 0;
    {
        MainWindow window;
        std::unique_ptr<PaintTimer> timer;
        if (qEnvironmentVariableIsSet("MOESCOPE_TIMING")) {
            timer = std::make_unique<PaintTimer>(&window, clock);
            app.installEventFilter(timer.get());
            QObject::connect(&window, &MainWindow::dumpShown, &window, [&timer] { timer->dumpShown(); });
            QObject::connect(window.loader(), &DumpLoader::layerAnalysed, &window,
                             [&timer, first = true](const DumpSnapshotPtr &, int done, int all) mutable {
                if (first) // one layer, or all of them at once from the summary cache
                    timer->firstLayerShown();
                first = false;
                if (done == all)
                    timer->allLayersShown();
            });
            if (!path.isEmpty()) // which file is timed (a sample: which copy of it)
                std::cerr << "moescope timing: opening " << path.toStdString() << "\n";
        }
        window.show();
        // Open once the window is up, so it paints before any file work starts.
        if (!path.isEmpty())
            QTimer::singleShot(0, &window, [&window, path] { window.openFile(path); });
        status = app.exec();
    } // the window goes, and every job it started is told to stop
    Engines::finishJobs();
    return status;
}

} // namespace moescope::ui
