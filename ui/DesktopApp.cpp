#include "DesktopApp.h"

#include "SamplePaths.h"
#include "analysis/DumpReport.h"
#include "io/RoutingDump.h"

#include <QApplication>
#include <QHeaderView>
#include <QMainWindow>
#include <QMessageBox>
#include <QTableWidget>

#include <cstring>
#include <iostream>

namespace moescope::ui {

namespace {
// A first window: the health table of every layer. The full set of linked views
// replaces it.
QTableWidget *healthTable(const DumpReport &report)
{
    const QStringList headers = {"Layer", "CV", "MaxVio", "Entropy", "LB loss", "Z loss", "Dropped", "Invalid", "Hot", "Cold"};
    auto *table = new QTableWidget(int(report.layers.size()), headers.size());
    table->setHorizontalHeaderLabels(headers);
    auto num = [](double v) { return v != v ? QString("-") : QString::number(v, 'f', 3); };
    for (int r = 0; r < int(report.layers.size()); ++r) {
        const LayerReport &l = report.layers[r];
        const QStringList cells = {QString::fromStdString(l.name), num(l.load.cv), num(l.load.maxVio),
                                   num(l.load.entropy), l.lbLoss ? num(*l.lbLoss) : "-",
                                   l.zLoss ? num(*l.zLoss) : "-", num(l.drops.droppedFraction),
                                   QString::number(l.invalidTokens), QString::number(l.load.hot.size()),
                                   QString::number(l.load.cold.size())};
        for (int c = 0; c < cells.size(); ++c)
            table->setItem(r, c, new QTableWidgetItem(cells[c]));
    }
    table->horizontalHeader()->setSectionResizeMode(QHeaderView::Stretch);
    return table;
}
} // namespace

int runDesktopApp(int argc, char **argv)
{
    QApplication app(argc, argv);
    QApplication::setApplicationName("MoE Scope");
    QApplication::setOrganizationName("MoEScope");
    const QString path = argc >= 2 ? QString::fromLocal8Bit(argv[1]) : balancedSamplePath();
    QMainWindow window;
    window.resize(1000, 600);
    try {
        const RoutingDump dump(path.toStdString());
        ReportRequest request;
        request.capacityFactor = effectiveCapacityFactor(dump.info(), std::nullopt);
        window.setCentralWidget(healthTable(buildReport(dump, request)));
        window.setWindowTitle(QString("MoE Scope - %1").arg(path));
    } catch (const std::exception &e) {
        QMessageBox::critical(nullptr, "MoE Scope", QString::fromStdString(e.what()));
    }
    window.show();
    return app.exec();
}

bool isExportCommand(const char *command) { return std::strcmp(command, "export") == 0; }

int runExportCommand(int, char **)
{
    std::cerr << "moescope export: not available in this build yet\n";
    return 2;
}

} // namespace moescope::ui
