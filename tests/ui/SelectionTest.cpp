// The shared selection: its history (back/forward, shortcuts) and that every view
// follows it, whichever view changed it.
#include "MainWindow.h"
#include "SelectionModel.h"
#include "PlotClicks.h"
#include "support/UiFixture.h"
#include "models/ExpertProfileModel.h"
#include "models/LayerHealthModel.h"
#include "plots/LoadHeatmapPlot.h"
#include "plots/TrainingPlot.h"
#include "plots/UtilizationPlot.h"
#include "views/ExpertProfileView.h"
#include "views/OverviewView.h"
#include "views/RoutingMapCanvas.h"
#include "views/RoutingMapView.h"
#include "views/TrainingView.h"
#include "views/UtilizationView.h"

#include <QAction>
#include <QDockWidget>
#include <QSignalSpy>
#include <QTableView>
#include <QTest>

#include <algorithm>

using namespace moescope;
using namespace moescope::ui;

class SelectionTest : public QObject {
    Q_OBJECT
private slots:
    void initTestCase()
    {
        test::isolateSettings(m_settings);
        m_dump = std::make_unique<test::TempDump>(test::uiFixture());
    }

    void historyWalksBackAndForward()
    {
        SelectionModel model;
        QSignalSpy changed(&model, &SelectionModel::changed);
        model.reset({0, 1, -1, -1});
        QVERIFY(!model.canGoBack());
        model.setLayer(2);
        model.setExpert(5);
        model.setExpert(5); // no change: no step
        QCOMPARE(changed.count(), 3);
        QCOMPARE(model.current(), (Selection{2, 5, -1, -1}));
        QVERIFY(model.backAction()->isEnabled());
        model.back();
        QCOMPARE(model.current(), (Selection{2, 1, -1, -1}));
        model.back();
        QCOMPARE(model.current(), (Selection{0, 1, -1, -1}));
        QVERIFY(!model.canGoBack());
        model.forward();
        QCOMPARE(model.current(), (Selection{2, 1, -1, -1}));
        // A new step after going back drops the forward history, as browsers do.
        model.setPosition(10, 3, -1, 4);
        QVERIFY(!model.canGoForward());
        QCOMPARE(model.current(), (Selection{2, 4, 10, 3}));
        const auto last = changed.last();
        QCOMPARE(last.at(1).value<Selection>(), (Selection{2, 1, -1, -1}));
    }

    void shortcutsAreTheUsualOnes()
    {
        SelectionModel model;
        QVERIFY(model.backAction()->shortcuts().contains(QKeySequence(Qt::ALT | Qt::Key_Left)));
        QVERIFY(model.forwardAction()->shortcuts().contains(QKeySequence(Qt::ALT | Qt::Key_Right)));
        for (const QKeySequence &k : QKeySequence::keyBindings(QKeySequence::Back))
            QVERIFY(model.backAction()->shortcuts().contains(k));
    }

    void everyViewFollowsTheSelection()
    {
        MainWindow window;
        // Wide enough that the histogram's title fits its dock: a narrower chart has no
        // axis area left to click in.
        window.resize(2000, 1000);
        window.show();
        QSignalSpy shown(&window, &MainWindow::dumpShown);
        window.openFile(m_dump->qpath());
        QVERIFY(shown.wait(15000));

        window.selection()->setLayerAndExpert(2, 5);
        checkViews(window, 2, 5);
        // The profile is computed in the background: wait for the one of (2, 5).
        const ExpertProfileModel *profile = window.profile()->profileModel();
        QTRY_VERIFY_WITH_TIMEOUT(profile->layer() == 2 && profile->profile().expert == 5, 5000);

        // A click in the heatmap on layer 1's busiest expert reaches the others through
        // the shared selection.
        const auto snapshot = window.snapshot();
        const auto &counts1 = snapshot->analysis.report.layers[1].counts;
        const int busiest = int(std::max_element(counts1.begin(), counts1.end()) - counts1.begin());
        LoadHeatmapPlot *heatmap = window.overview()->heatmap();
        QVERIFY(test::clickChartWhere(heatmap, [heatmap, busiest](const QPoint &p) {
            int layer = -1, expert = -1;
            return heatmap->cellAt(p, layer, expert) && layer == 1 && expert == busiest;
        }));
        checkViews(window, 1, busiest);

        // A bar click in the histogram on the layer's quietest expert selects it,
        // keeping the layer.
        const int quietest = int(std::min_element(counts1.begin(), counts1.end()) - counts1.begin());
        QVERIFY(quietest != busiest);
        UtilizationPlot *histogram = window.utilization()->plot();
        window.findChild<QDockWidget *>(QStringLiteral("utilizationDock"))->raise();
        QVERIFY(test::clickChartWhere(histogram, [histogram, quietest](const QPoint &p) {
            return histogram->expertAt(p) == quietest;
        }));
        checkViews(window, 1, quietest);

        // A routing-map click selects a position, its token, layer and expert.
        const int expert = snapshot->analysis.bestExpert(0, 250);
        emit window.routingMap()->canvas()->cellClicked(250, snapshot->analysis.tokenIds[250], 0, expert);
        checkViews(window, 0, expert);
        QCOMPARE(window.routingMap()->canvas()->selection().position, 250);
        QCOMPARE(window.routingMap()->canvas()->sequence(), 1); // 200..399 is sequence 1
        QVERIFY(!window.routingMap()->canvas()->tokenPositions().empty());

        // Alt+Left walks back through those steps; every view follows again.
        QTest::keyClick(&window, Qt::Key_Left, Qt::AltModifier);
        checkViews(window, 1, quietest);
        QTest::keyClick(&window, Qt::Key_Left, Qt::AltModifier);
        checkViews(window, 1, busiest);
        QTest::keyClick(&window, Qt::Key_Right, Qt::AltModifier);
        checkViews(window, 1, quietest);
    }

    void tableRowSelectsLayer()
    {
        MainWindow window;
        window.show();
        QSignalSpy shown(&window, &MainWindow::dumpShown);
        window.openFile(m_dump->qpath());
        QVERIFY(shown.wait(15000));
        QVERIFY(QTest::qWaitForWindowExposed(&window));
        QTableView *table = window.overview()->healthTable();
        // Click a row of another layer than the selected one: the selection follows it.
        const int before = window.selection()->current().layer;
        int row = 0;
        while (table->model()->index(row, 0).data(LayerHealthModel::LayerRole).toInt() == before)
            ++row;
        const QModelIndex cell = table->model()->index(row, LayerHealthModel::CvColumn);
        const int layer = cell.data(LayerHealthModel::LayerRole).toInt();
        QVERIFY(layer != before);
        QTest::mouseClick(table->viewport(), Qt::LeftButton, {}, table->visualRect(cell).center());
        QCOMPARE(window.selection()->current().layer, layer);
        QCOMPARE(table->currentIndex().row(), row);
    }

private:
    void checkViews(MainWindow &window, int layer, int expert)
    {
        QCOMPARE(window.selection()->current().layer, layer);
        QCOMPARE(window.selection()->current().expert, expert);
        QCOMPARE(window.overview()->heatmap()->selectedLayer(), layer);
        QCOMPARE(window.overview()->heatmap()->selectedExpert(), expert);
        QCOMPARE(window.overview()->healthTable()->currentIndex().data(LayerHealthModel::LayerRole).toInt(), layer);
        QCOMPARE(window.utilization()->plot()->layer(), layer);
        QCOMPARE(window.utilization()->plot()->selectedExpert(), expert);
        QCOMPARE(window.routingMap()->canvas()->selection().layer, layer);
        QCOMPARE(window.routingMap()->canvas()->selection().expert, expert);
        QCOMPARE(window.training()->plot()->layer(), layer);
    }

    QTemporaryDir m_settings;
    std::unique_ptr<test::TempDump> m_dump;
};

QTEST_MAIN(SelectionTest)
#include "SelectionTest.moc"
