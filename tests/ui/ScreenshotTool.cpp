// moescope_ui_shots DUMP OUTDIR [CHECKPOINT.h5 ...]: opens DUMP in the main window and
// saves what each view looks like (whole window, zoomed routing map, search, training,
// what-if, expert pairs, specialisation, placement and, given checkpoints of one run,
// the Checkpoints view) as PNGs, for a person to look at. Not a test; run it under Xvfb
// or offscreen.
// moescope_ui_shots DUMP --bench: the window benchmark (tests/ui/bench/UiBench.h): frame times
// and the worst GUI-thread blocks while loading, scrolling, hovering, switching layers
// and searching, each beside its target.
// moescope_ui_shots --follow RUN.h5 OUTDIR [SECONDS]: follows a run log for SECONDS
// (default 5) and saves the window as follow.png.
#include "Engines.h"
#include "MainWindow.h"
#include "SelectionModel.h"
#include "bench/GuiBlockWatch.h"
#include "bench/UiBench.h"
#include "live/FollowRunPage.h"
#include "views/CheckpointsView.h"
#include "views/ExpertPairsView.h"
#include "views/ExpertProfileView.h"
#include "views/PlacementCanvas.h"
#include "views/PlacementView.h"
#include "views/RoutingMapCanvas.h"
#include "views/RoutingMapView.h"
#include "views/WhatIfView.h"

#include <QApplication>
#include <QDir>
#include <QDockWidget>
#include <QLineEdit>
#include <QSignalSpy>
#include <QTest>

#include <cstdlib>
#include <iostream>

using namespace moescope::ui;

namespace {
void save(QWidget *widget, const QString &path)
{
    QTest::qWait(400);
    widget->grab().save(path);
    std::cout << path.toStdString() << "\n";
}

void raise(MainWindow &window, const char *dockName)
{
    if (auto *dock = window.findChild<QDockWidget *>(QString::fromLatin1(dockName)))
        dock->raise();
}
} // namespace

namespace {
int shots(int argc, char **argv)
{
    if (argc < 3) {
        std::cerr
            << "usage: moescope_ui_shots DUMP OUTDIR | DUMP --bench | --follow RUN.h5 OUTDIR [SECONDS]\n";
        return 2;
    }
    if (QString::fromLocal8Bit(argv[1]) == u"--follow" && argc >= 4) {
        MainWindow window;
        window.resize(1600, 1000);
        window.show();
        window.followRun(QString::fromLocal8Bit(argv[2]));
        QTest::qWait(1000 * (argc > 4 ? std::atoi(argv[4]) : 5));
        if (!window.followPage()->lastPoll().steps)
            std::cerr << "no step arrived from " << argv[2] << "\n";
        save(&window, QDir(QString::fromLocal8Bit(argv[3])).filePath(QStringLiteral("follow.png")));
        return 0;
    }
    const QString dump = QString::fromLocal8Bit(argv[1]);
    if (QString::fromLocal8Bit(argv[2]) == u"--bench")
        return moescope::ui::bench::runUiBench(dump);
    const QDir out(QString::fromLocal8Bit(argv[2]));
    MainWindow window;
    window.resize(1600, 1000);
    window.show();
    QSignalSpy shown(&window, &MainWindow::dumpShown);
    window.openFile(dump);
    if (!shown.wait(120000)) {
        std::cerr << "could not open " << argv[1] << "\n";
        return 1;
    }
    save(&window, out.filePath(QStringLiteral("1-main.png")));

    RoutingMapCanvas *map = window.routingMap()->canvas();
    map->showRange(40, 60);
    auto snapshot = window.snapshot();
    const std::int64_t position = snapshot->sequenceBegin(0) + 55;
    window.selection()->setPosition(position, snapshot->analysis.tokenIds[std::size_t(position)], 1,
                                    snapshot->analysis.bestExpert(1, position));
    save(&window, out.filePath(QStringLiteral("2-map-zoomed.png")));

    QSignalSpy answered(window.profile(), &ExpertProfileView::searchAnswered);
    window.profile()->searchBox()->setText(QStringLiteral("def"));
    answered.wait(5000);
    save(&window, out.filePath(QStringLiteral("3-search.png")));

    raise(window, "trainingDock");
    save(&window, out.filePath(QStringLiteral("4-training.png")));

    raise(window, "whatIfDock");
    QSignalSpy finished(window.whatIf(), &WhatIfView::finished);
    window.whatIf()->run();
    finished.wait(120000);
    save(&window, out.filePath(QStringLiteral("5-whatif.png")));

    raise(window, "pairsDock");
    for (PairKind kind : {PairKind::CoActivation, PairKind::Transitions, PairKind::AdjacentCoActivation}) {
        QSignalSpy counted(window.pairs(), &ExpertPairsView::counted);
        window.pairs()->setKind(kind);
        counted.wait(20000);
        save(&window, out.filePath(kind == PairKind::CoActivation  ? QStringLiteral("6-co-activation.png")
                                   : kind == PairKind::Transitions ? QStringLiteral("7-transitions.png")
                                                                   : QStringLiteral("8-adjacent-co-activation.png")));
    }

    raise(window, "specialisationDock");
    window.selection()->setLayerAndExpert(2, window.selection()->current().expert);
    save(&window, out.filePath(QStringLiteral("9-specialisation.png")));

    if (argc > 4) { // checkpoints of one run
        QStringList series;
        for (int i = 3; i < argc; ++i)
            series << QString::fromLocal8Bit(argv[i]);
        QSignalSpy compared(window.checkpoints(), &CheckpointsView::comparisonShown);
        shown.clear();
        window.compareFiles(series);
        compared.wait(120000);
        shown.wait(120000);
        raise(window, "checkpointsDock");
        save(&window, out.filePath(QStringLiteral("10-checkpoints.png")));
        window.checkpoints()->resize(1100, 800);
        save(window.checkpoints(), out.filePath(QStringLiteral("11-checkpoints-view.png")));
    }

    // The placement dock on its own, large enough to read, with a replicated expert
    // selected (the busiest of the layer).
    if (auto *dock = window.findChild<QDockWidget *>(QStringLiteral("placementDock"))) {
        dock->raise();
        QTest::qWait(300);
        PlacementView *placement = window.placement();
        placement->resize(1400, 820);
        placement->canvas()->resize(1400, 780);
        window.selection()->setLayerAndExpert(0, snapshot->busiestExpert(0));
        save(&window, out.filePath(QStringLiteral("8-placement-window.png")));
        dock->setFloating(true);
        dock->resize(1400, 860);
        save(dock, out.filePath(QStringLiteral("9-placement.png")));
    }
    return 0;
}
} // namespace

int main(int argc, char **argv)
{
    moescope::ui::bench::TimedApplication app(argc, argv); // times events for --bench
    QApplication::setOrganizationName(QStringLiteral("MoEScopeShots"));
    const int status = shots(argc, argv); // its windows are gone when it returns
    moescope::ui::Engines::finishJobs();  // their jobs end while HDF5 is still open
    return status;
}
