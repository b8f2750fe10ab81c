// The shared selection: its history (back/forward, shortcuts) and that every view
// follows it, whichever view changed it.
#include "MainWindow.h"
#include "SelectionModel.h"
#include "UiFixture.h"
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
#include <QSignalSpy>
#include <QTableView>
#include <QTest>

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
        window.show();
        QSignalSpy shown(&window, &MainWindow::dumpShown);
        window.openFile(m_dump->qpath());
        QVERIFY(shown.wait(15000));
        QSignalSpy profiles(window.profile(), &ExpertProfileView::profileShown);

        window.selection()->setLayerAndExpert(2, 5);
        checkViews(window, 2, 5);
        QVERIFY(profiles.wait(5000) || profiles.count() > 0);
        QCOMPARE(window.profile()->profileModel()->profile().expert, 5);
        QCOMPARE(window.profile()->profileModel()->layer(), 2);

        // A click in the heatmap reaches the others through the shared selection.
        emit window.overview()->heatmap()->cellClicked(1, 3);
        checkViews(window, 1, 3);

        // A bar click in the histogram selects an expert, keeping the layer.
        emit window.utilization()->plot()->expertClicked(6);
        checkViews(window, 1, 6);

        // A routing-map click selects a position, its token, layer and expert.
        const auto snapshot = window.snapshot();
        const int expert = snapshot->analysis.bestExpert(0, 250);
        emit window.routingMap()->canvas()->cellClicked(250, snapshot->analysis.tokenIds[250], 0, expert);
        checkViews(window, 0, expert);
        QCOMPARE(window.routingMap()->canvas()->selection().position, 250);
        QCOMPARE(window.routingMap()->canvas()->sequence(), 1); // 200..399 is sequence 1
        QVERIFY(!window.routingMap()->canvas()->tokenPositions().empty());

        // Alt+Left walks back through those steps; every view follows again.
        QTest::keyClick(&window, Qt::Key_Left, Qt::AltModifier);
        checkViews(window, 1, 6);
        QTest::keyClick(&window, Qt::Key_Left, Qt::AltModifier);
        checkViews(window, 1, 3);
        QTest::keyClick(&window, Qt::Key_Right, Qt::AltModifier);
        checkViews(window, 1, 6);
    }

    void tableRowSelectsLayer()
    {
        MainWindow window;
        window.show();
        QSignalSpy shown(&window, &MainWindow::dumpShown);
        window.openFile(m_dump->qpath());
        QVERIFY(shown.wait(15000));
        QTableView *table = window.overview()->healthTable();
        table->setCurrentIndex(table->model()->index(2, LayerHealthModel::CvColumn));
        QCOMPARE(window.selection()->current().layer,
                 table->model()->index(2, 0).data(LayerHealthModel::LayerRole).toInt());
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
