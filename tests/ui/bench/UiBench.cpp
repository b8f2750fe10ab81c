#include "UiBench.h"

#include "DumpLoader.h"
#include "GuiBlockWatch.h"
#include "MainWindow.h"
#include "SelectionModel.h"
#include "models/TokenRoutingModel.h"
#include "plots/ExpertPairsPlot.h"
#include "plots/LoadHeatmapPlot.h"
#include "stats/ExpertProfile.h"
#include "views/ExpertPairsView.h"
#include "views/ExpertProfileView.h"
#include "views/OverviewView.h"
#include "views/RoutingMapCanvas.h"
#include "views/RoutingMapView.h"

#include <QDockWidget>
#include <QEventLoop>
#include <QFile>
#include <QHelpEvent>
#include <QLineEdit>
#include <QMouseEvent>
#include <QTemporaryDir>
#include <QTest>

#include <algorithm>
#include <cstdio>
#include <functional>
#include <map>
#include <span>
#include <thread>
#include <vector>

namespace moescope::ui::bench {

namespace {

constexpr double kFrameMs = 16, kBlockMs = 50, kSearchMs = 200;

// Runs the event loop for `ms` (QTest::qWait sleeps between its turns, which the
// block watch would count as blocks).
void spin(int ms)
{
    QEventLoop loop;
    QTimer::singleShot(ms, &loop, &QEventLoop::quit);
    loop.exec();
}

// Runs the event loop until `signal` of `sender` fires, at most `ms`; false on timeout.
template <typename Sender, typename Signal> bool waitFor(Sender *sender, Signal signal, int ms)
{
    QEventLoop loop;
    bool fired = false;
    const auto connection = QObject::connect(sender, signal, &loop, [&] {
        fired = true;
        loop.quit();
    });
    QTimer::singleShot(ms, &loop, &QEventLoop::quit);
    loop.exec();
    QObject::disconnect(connection);
    return fired;
}

double msSince(const QElapsedTimer &clock)
{
    return double(clock.nsecsElapsed()) * 1e-6;
}

// Each figure beside its target; the verdict is on the wall clock, the GUI thread's
// own CPU time (what the code costs, without the waits for a busy machine's cores)
// is shown beside it with its own verdict.
struct Verdicts {
    int met = 0, missed = 0;
    void figure(const char *what, double value, double cpu, const char *unit, double target)
    {
        const bool ok = value <= target;
        (ok ? met : missed) += 1;
        if (cpu < 0) { // a background computation: the GUI thread's CPU says nothing
            std::printf("  %-50s %8.1f %-2s               target <= %g %s   %s\n", what, value, unit, target,
                        unit, ok ? "met" : "NOT met");
            return;
        }
        std::printf("  %-50s %8.1f %-2s (CPU %6.1f)  target <= %g %s   %-7s (on CPU: %s)\n", what, value,
                    unit, cpu, target, unit, ok ? "met" : "NOT met", cpu <= target ? "met" : "NOT met");
    }
};

void info(const char *what, const QString &text)
{
    std::printf("  %-50s %s\n", what, qPrintable(text));
}

// Frame times of one view's interaction steps.
struct Frames {
    std::vector<double> ms, cpuMs;
    void time(const std::function<void()> &step)
    {
        QElapsedTimer clock;
        clock.start();
        const qint64 cpu = threadCpuNs();
        step();
        ms.push_back(msSince(clock));
        cpuMs.push_back(double(threadCpuNs() - cpu) * 1e-6);
    }
    void add(const Frames &other)
    {
        ms.insert(ms.end(), other.ms.begin(), other.ms.end());
        cpuMs.insert(cpuMs.end(), other.cpuMs.begin(), other.cpuMs.end());
    }
    double median() const
    {
        std::vector<double> s = ms;
        std::sort(s.begin(), s.end());
        return s.empty() ? 0 : s[s.size() / 2];
    }
    double worst() const { return ms.empty() ? 0 : *std::max_element(ms.begin(), ms.end()); }
    double worstCpu() const { return cpuMs.empty() ? 0 : *std::max_element(cpuMs.begin(), cpuMs.end()); }
};

struct Phase {
    TimedApplication &app;
    GuiBlockWatch &watch;
    Verdicts &verdicts;

    void start()
    {
        watch.reset();
        app.resetWorstEvent();
    }
    void frames(const char *what, const Frames &f)
    {
        info((QByteArray(what) + ", frames").constData(),
             QStringLiteral("%1 steps, median %2 ms").arg(f.ms.size()).arg(f.median(), 0, 'f', 1));
        verdicts.figure((QByteArray(what) + ", worst frame").constData(), f.worst(), f.worstCpu(), "ms",
                        kFrameMs);
    }
    void blocks(const char *what)
    {
        verdicts.figure(what, watch.worstBlockMs(), watch.worstBlockCpuMs(), "ms", kBlockMs);
        const SlowEvent slow = app.worstEvent();
        info("  slowest event on the GUI thread",
             QStringLiteral("%1 ms (CPU %2): %3 (the worst block ended %4 s into the phase)")
                 .arg(slow.ms, 0, 'f', 1)
                 .arg(slow.cpuMs, 0, 'f', 1)
                 .arg(slow.what)
                 .arg(watch.worstBlockAtSeconds(), 0, 'f', 2));
    }
};

void raise(MainWindow &window, const char *dockName)
{
    if (auto *dock = window.findChild<QDockWidget *>(QString::fromLatin1(dockName))) {
        dock->show();
        dock->raise();
    }
}

QWidget *chartCanvas(QWidget *plot)
{
    for (QWidget *w : plot->findChildren<QWidget *>())
        if (w->inherits("QCustomPlot"))
            return w;
    return nullptr;
}

// One point per cell of a chart's grid (scanned every 2 px), spread over the grid:
// at most `count`, in scan order.
std::vector<QPoint> cellPoints(QWidget *canvas,
                               const std::function<bool(const QPoint &, int &, int &)> &cellAt,
                               std::size_t count)
{
    std::map<std::pair<int, int>, QPoint> cells;
    for (int y = 0; y < canvas->height(); y += 2)
        for (int x = 0; x < canvas->width(); x += 2) {
            int a = 0, b = 0;
            if (cellAt(QPoint(x, y), a, b))
                cells.emplace(std::pair(a, b), QPoint(x, y));
        }
    std::vector<QPoint> all;
    for (const auto &[cell, point] : cells)
        all.push_back(point);
    std::vector<QPoint> picked;
    for (std::size_t i = 0; i < count && !all.empty(); ++i)
        picked.push_back(all[(i * 7919) % all.size()]); // a stride prime to the grid
    return picked;
}

// A tooltip at `pos`: the mouse moves there and rests.
void hover(QWidget *canvas, const QPoint &pos)
{
    const QPoint global = canvas->mapToGlobal(pos);
    QMouseEvent move(QEvent::MouseMove, pos, global, Qt::NoButton, Qt::NoButton, Qt::NoModifier);
    QApplication::sendEvent(canvas, &move);
    QHelpEvent help(QEvent::ToolTip, pos, global);
    QApplication::sendEvent(canvas, &help);
}

// What a step leaves for the screen, drawn now: the chart's queued replot, then the
// view's paint.
void paintNow(QWidget *view, QWidget *canvas)
{
    if (canvas)
        QCoreApplication::sendPostedEvents(canvas, QEvent::MetaCall);
    view->repaint();
}

bool load(MainWindow &window, Phase &phase, const QString &dump, const char *title)
{
    std::printf("%s\n", title);
    double firstLayer = -1, allLayers = -1;
    QElapsedTimer clock;
    const auto layers = QObject::connect(window.loader(), &DumpLoader::layerAnalysed, &window,
                                         [&](const DumpSnapshotPtr &, int done, int all) {
                                             if (firstLayer < 0)
                                                 firstLayer = msSince(clock);
                                             if (done == all)
                                                 allLayers = msSince(clock);
                                         });
    QString failure;
    const auto failed = QObject::connect(&window, &MainWindow::openFailed, &window,
                                         [&](const QString &, const QString &message) { failure = message; });
    phase.start();
    clock.start();
    QEventLoop loop;
    QObject::connect(&window, &MainWindow::dumpShown, &loop, &QEventLoop::quit);
    QObject::connect(&window, &MainWindow::openFailed, &loop, &QEventLoop::quit);
    window.openFile(dump);
    loop.exec();
    const double shown = msSince(clock);
    QObject::disconnect(layers);
    QObject::disconnect(failed);
    if (!failure.isEmpty()) {
        std::fprintf(stderr, "could not open %s: %s\n", qPrintable(dump), qPrintable(failure));
        return false;
    }
    spin(2000); // the views' first results (profile, routing map, counts) arrive
    info("first layer on the overview", QStringLiteral("%1 s").arg(firstLayer * 1e-3, 0, 'f', 2));
    info("every layer analysed", QStringLiteral("%1 s").arg(allLayers * 1e-3, 0, 'f', 2));
    info("every view given the dump", QStringLiteral("%1 s").arg(shown * 1e-3, 0, 'f', 2));
    phase.blocks("worst GUI-thread block, open to 2 s after");
    return true;
}

void benchRoutingMap(MainWindow &window, Phase &phase)
{
    raise(window, "routingDock");
    spin(500);
    RoutingMapCanvas *map = window.routingMap()->canvas();
    const DumpSnapshotPtr snapshot = window.snapshot();
    const double length = double(snapshot->sequenceEnd(0) - snapshot->sequenceBegin(0));
    std::printf("routing map (sequence 0, %lld tokens, %d layers)\n", static_cast<long long>(length),
                snapshot->numLayers());
    phase.start();
    Frames all;
    for (double visible : {length, length / 8, 1500.0, 60.0}) {
        Frames level;
        for (int step = 0; step < 40; ++step) {
            level.time([&] {
                map->showRange(step * visible / 20, visible);
                map->viewport()->repaint();
            });
            spin(16);
        }
        for (double factor : {1.25, 1.25, 1.25, 0.8, 0.8, 0.8}) {
            level.time([&] {
                map->zoomBy(factor);
                map->viewport()->repaint();
            });
            spin(16);
        }
        info(qPrintable(QStringLiteral("%1 tokens visible").arg(qint64(visible))),
             QStringLiteral("median %1 ms, worst %2 ms per scroll or zoom step")
                 .arg(level.median(), 0, 'f', 1)
                 .arg(level.worst(), 0, 'f', 1));
        all.add(level);
    }
    spin(300);
    phase.frames("scroll and zoom", all);
    phase.blocks("worst GUI-thread block while scrolling");
}

void benchOverview(MainWindow &window, Phase &phase)
{
    OverviewView *overview = window.overview();
    LoadHeatmapPlot *heatmap = overview->heatmap();
    QWidget *canvas = chartCanvas(heatmap);
    const DumpSnapshotPtr snapshot = window.snapshot();
    std::printf("overview (%d layers x %d experts)\n", snapshot->numLayers(), snapshot->numExperts());
    const std::vector<QPoint> points = cellPoints(
        canvas, [&](const QPoint &p, int &l, int &e) { return heatmap->cellAt(p, l, e); }, 60);
    if (points.empty()) {
        info("no cell found", QStringLiteral("the heatmap is not laid out"));
        return;
    }
    phase.start();
    Frames hovers, clicks;
    for (const QPoint &p : points) {
        hovers.time([&] {
            hover(canvas, p);
            paintNow(overview, canvas);
        });
        spin(16);
    }
    for (std::size_t i = 0; i < 20; ++i) {
        clicks.time([&] {
            QTest::mouseClick(canvas, Qt::LeftButton, {}, points[i]);
            paintNow(overview, canvas);
        });
        spin(100);
    }
    spin(300);
    phase.frames("hover (tooltip)", hovers);
    phase.frames("click (selects a layer and expert)", clicks);
    phase.blocks("worst GUI-thread block while hovering and clicking");
}

void benchPairs(MainWindow &window, Phase &phase)
{
    ExpertPairsView *pairs = window.pairs();
    ExpertPairsPlot *plot = pairs->plot();
    QWidget *canvas = chartCanvas(plot);
    const DumpSnapshotPtr snapshot = window.snapshot();
    std::printf("expert pairs (co-activation, %d x %d)\n", snapshot->numExperts(), snapshot->numExperts());
    window.selection()->setLayerAndExpert(0, window.selection()->current().expert);
    raise(window, "pairsDock");
    waitFor(pairs, &ExpertPairsView::counted, 60000);
    spin(300);
    phase.start();
    Frames switches, results, hovers;
    std::vector<double> latency;
    const int layers = std::min(snapshot->numLayers(), 16);
    for (int l = 1; l < layers; ++l) {
        QElapsedTimer clock;
        clock.start();
        switches.time([&] {
            window.selection()->setLayerAndExpert(l, window.selection()->current().expert);
            paintNow(pairs, canvas);
        });
        if (!waitFor(pairs, &ExpertPairsView::counted, 60000))
            break;
        latency.push_back(msSince(clock));
        results.time([&] { paintNow(pairs, canvas); });
        spin(16);
    }
    const std::vector<QPoint> points = cellPoints(
        canvas, [&](const QPoint &p, int &a, int &b) { return plot->cellAt(p, a, b); }, 40);
    for (const QPoint &p : points) {
        hovers.time([&] {
            hover(canvas, p);
            paintNow(pairs, canvas);
        });
        spin(16);
    }
    spin(300);
    std::sort(latency.begin(), latency.end());
    if (!latency.empty())
        info("layer switch to its pairs on screen (background)",
             QStringLiteral("median %1 ms, worst %2 ms")
                 .arg(latency[latency.size() / 2], 0, 'f', 1)
                 .arg(latency.back(), 0, 'f', 1));
    phase.frames("layer switch", switches);
    phase.frames("new pairs drawn", results);
    phase.frames("hover (tooltip)", hovers);
    phase.blocks("worst GUI-thread block while switching layers");
}

// Where a search's time goes: matching the query with the vocabulary, then at every
// layer the token's rows, gathered from the layers in memory and read from the dump
// (only the stored chunks that hold the token) for the others. Each part on one
// thread here, with its CPU time; the search itself spreads the layers over the cores.
void searchCosts(const DumpSnapshot &snapshot, const QString &query)
{
    const auto &a = snapshot.analysis;
    QElapsedTimer clock;
    clock.start();
    const std::vector<std::int64_t> ids = tokenIdsMatching(snapshot, query);
    const double matchMs = msSince(clock);
    if (ids.empty() || !a.layers)
        return;
    const std::size_t L = a.numLayers();
    std::vector<std::size_t> resident, absent;
    for (std::size_t l = 0; l < L; ++l)
        (a.layers->inMemory(l) ? resident : absent).push_back(l);
    const std::span<const std::int64_t> positions = snapshot.tokenPositions().of(ids.front());
    std::int64_t rows = 0;
    const auto visit = [&rows](std::size_t, std::size_t n, const std::int32_t *, const std::uint8_t *) {
        rows += std::int64_t(n);
    };
    const auto timed = [&](const std::vector<std::size_t> &layers, double &cpuMs) {
        QElapsedTimer wall;
        wall.start();
        const qint64 cpu0 = threadCpuNs();
        for (const std::size_t l : layers)
            a.layers->rowsAt(l, positions, visit);
        cpuMs = double(threadCpuNs() - cpu0) / 1e6;
        return msSince(wall);
    };
    double gatherCpu = 0, readCpu = 0;
    const double gatherMs = timed(resident, gatherCpu);
    const double readMs = timed(absent, readCpu);
    // The whole search as the view runs it, with the CPU of all its threads.
    clock.restart();
    const qint64 process0 = processCpuNs();
    const std::size_t routes = routesOfTokens(snapshot, ids).size();
    const double wholeCpu = double(processCpuNs() - process0) / 1e6, wholeMs = msSince(clock);
    info("  where a search's time goes",
         QStringLiteral("\"%1\" at %2 positions; matching the vocabulary: %3 ms; gathering its rows from the %4 "
                        "layers in memory: %5 ms (CPU %6); reading them for the other %7 layers: %8 ms (CPU %9) "
                        "(one thread each); the whole search, %10 threads: %11 ms (CPU %12), %13 routes")
             .arg(query)
             .arg(positions.size())
             .arg(matchMs, 0, 'f', 1)
             .arg(resident.size())
             .arg(gatherMs, 0, 'f', 1)
             .arg(gatherCpu, 0, 'f', 1)
             .arg(absent.size())
             .arg(readMs, 0, 'f', 1)
             .arg(readCpu, 0, 'f', 1)
             .arg(std::max(1u, std::thread::hardware_concurrency()))
             .arg(wholeMs, 0, 'f', 1)
             .arg(wholeCpu, 0, 'f', 1)
             .arg(routes));
}

void benchSearch(MainWindow &window, Phase &phase)
{
    ExpertProfileView *profile = window.profile();
    const DumpSnapshotPtr snapshot = window.snapshot();
    std::printf("token search (%lld tokens, %zu vocabulary entries)\n",
                static_cast<long long>(snapshot->info().numTokens), snapshot->analysis.vocab.size());
    raise(window, "profileDock");
    // The answer is timed from the query, not from the last keystroke: the view waits
    // for a pause in the typing first, which is its choice, not the search's cost.
    for (QTimer *timer : profile->findChildren<QTimer *>())
        if (timer->isSingleShot() && timer->interval() == ExpertProfileView::kSearchDelayMs)
            timer->setInterval(0);
    const auto &vocab = snapshot->analysis.vocab;
    const auto &ids = snapshot->analysis.tokenIds;
    // The most frequent token's text, a token from the middle of the dump, a missing one.
    QStringList queries;
    if (!vocab.empty()) {
        std::vector<std::int64_t> seen(vocab.size(), 0);
        for (std::size_t t = 0; t < ids.size(); t += 97)
            if (ids[t] >= 0 && std::size_t(ids[t]) < seen.size())
                ++seen[std::size_t(ids[t])];
        const auto top = std::max_element(seen.begin(), seen.end()) - seen.begin();
        queries << QString::fromStdString(vocab[std::size_t(top)]);
        queries << snapshot->tokenDisplay(std::int64_t(ids.size() / 2));
    } else {
        queries << QStringLiteral("#%1").arg(ids.empty() ? 0 : ids[ids.size() / 2]);
    }
    queries << QStringLiteral("no-such-token-here");
    phase.start();
    double worst = 0;
    for (const QString &query : queries) {
        QElapsedTimer clock;
        clock.start();
        profile->searchBox()->setText(query);
        if (!waitFor(profile, &ExpertProfileView::searchAnswered, 600000))
            std::printf("  no answer for \"%s\"\n", qPrintable(query));
        const double ms = msSince(clock);
        worst = std::max(worst, ms);
        info(qPrintable(QStringLiteral("\"%1\"").arg(query)),
             QStringLiteral("answered in %1 ms").arg(ms, 0, 'f', 1));
        spin(200);
    }
    // Wall clock only: the search runs in the background; the GUI thread's part shows
    // in the block below.
    phase.verdicts.figure("worst search answer", worst, -1, "ms", kSearchMs);
    phase.blocks("worst GUI-thread block while searching");
    searchCosts(*snapshot, queries.front());
}

QString loadAverage()
{
    QFile file(QStringLiteral("/proc/loadavg"));
    return file.open(QIODevice::ReadOnly) ? QString::fromLatin1(file.readAll()).section(u' ', 0, 2)
                                          : QString();
}

} // namespace

int runUiBench(const QString &dump)
{
    auto *app = dynamic_cast<TimedApplication *>(QCoreApplication::instance());
    if (!app) {
        std::fprintf(stderr, "the window benchmark needs a TimedApplication\n");
        return 2;
    }
    // A cache of its own, empty: the first open analyses every layer, the second is
    // served from the cache; the user's cache is left alone.
    QTemporaryDir cache;
    qputenv("MOESCOPE_CACHE_DIR", cache.path().toLocal8Bit());
    MainWindow window;
    window.loader()->setUseCache(true);
    window.resize(1600, 1000);
    window.show();
    spin(500);
    std::printf("MoE Scope window benchmark: %s, %s platform, window 1600 x 1000, load average %s\n",
                qPrintable(dump), qPrintable(QGuiApplication::platformName()), qPrintable(loadAverage()));
    GuiBlockWatch watch;
    Verdicts verdicts;
    Phase phase{*app, watch, verdicts};
    if (!load(window, phase, dump, "loading, no summary cache"))
        return 1;
    const DumpInfo &info = window.snapshot()->info();
    std::printf("  (%lld tokens x %zu layers x %d experts, top-%d)\n", static_cast<long long>(info.numTokens),
                info.layers.size(), info.numExperts, info.topK);
    benchRoutingMap(window, phase);
    benchOverview(window, phase);
    benchPairs(window, phase);
    benchSearch(window, phase);
    if (!load(window, phase, dump, "loading again, from the summary cache"))
        return 1;
    std::printf("%d targets met, %d NOT met\n", verdicts.met, verdicts.missed);
    return 0;
}

} // namespace moescope::ui::bench
