// moescope_ui_shots DUMP OUTDIR: opens DUMP in the main window and saves what each
// view looks like (whole window, zoomed routing map, search, training, what-if) as
// PNGs, for a person to look at. Not a test; run it under Xvfb or offscreen.
#include "MainWindow.h"
#include "SelectionModel.h"
#include "views/ExpertProfileView.h"
#include "views/RoutingMapCanvas.h"
#include "views/RoutingMapView.h"
#include "views/WhatIfView.h"

#include <QApplication>
#include <QDir>
#include <QDockWidget>
#include <QLineEdit>
#include <QSignalSpy>
#include <QTest>

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

int main(int argc, char **argv)
{
    QApplication app(argc, argv);
    QApplication::setOrganizationName(QStringLiteral("MoEScopeShots"));
    if (argc < 3) {
        std::cerr << "usage: moescope_ui_shots DUMP OUTDIR\n";
        return 2;
    }
    const QString dump = QString::fromLocal8Bit(argv[1]);
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

    window.profile()->searchBox()->setText(QStringLiteral("def"));
    QTest::qWait(1500);
    save(&window, out.filePath(QStringLiteral("3-search.png")));

    raise(window, "trainingDock");
    save(&window, out.filePath(QStringLiteral("4-training.png")));

    raise(window, "whatIfDock");
    QSignalSpy finished(window.whatIf(), &WhatIfView::finished);
    window.whatIf()->run();
    finished.wait(120000);
    save(&window, out.filePath(QStringLiteral("5-whatif.png")));
    return 0;
}
