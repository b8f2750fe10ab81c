// The window as a user meets it: a bad file shows an error and leaves the window
// usable, the latest of two opens wins, drops open files, recent files and layout are
// remembered, the debounced search answers, the overview fills in while a dump loads
// (the what-if panel's tests are in views/WhatIfViewTest.cpp).
#include "DumpLoader.h"
#include "JobSlot.h"
#include "MainWindow.h"
#include "MessageBanner.h"
#include "PlotClicks.h"
#include "SelectionModel.h"
#include "support/DamagedDump.h"
#include "support/UiFixture.h"
#include "support/WindowTestSupport.h"
#include "models/ExpertProfileModel.h"
#include "models/LayerHealthModel.h"
#include "views/OverviewView.h"
#include "models/TokenRoutingModel.h"
#include "plots/LoadHeatmapPlot.h"
#include "plots/TrainingPlot.h"
#include "plots/ExpertPairsPlot.h"
#include "views/ExpertPairsView.h"
#include "views/ExpertProfileView.h"
#include "views/RoutingMapCanvas.h"
#include "views/RoutingMapView.h"
#include "views/TrainingView.h"
#include "views/UtilizationView.h"
#include "views/WhatIfView.h"

#include <QApplication>
#include <QDockWidget>
#include <QElapsedTimer>
#include <QFutureWatcher>
#include <QFile>
#include <QLineEdit>
#include <QMimeData>
#include <QSettings>
#include <QDir>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QSortFilterProxyModel>
#include <QTest>
#include <QTableView>
#include <QToolTip>
#include <QWheelEvent>

#include <algorithm>
#include <set>

using namespace moescope;
using namespace moescope::ui;

class MainWindowTest : public QObject {
    Q_OBJECT
    // Clicks the pairs chart where its own hit test finds cell (e1, e2).
    static bool clickPairCell(ExpertPairsPlot *plot, int e1, int e2)
    {
        return test::clickChartWhere(plot, [plot, e1, e2](const QPoint &p) {
            int r = -1, c = -1;
            return plot->cellAt(p, r, c) && r == e1 && c == e2;
        });
    }

private slots:
    void initTestCase()
    {
        test::isolateSettings(m_settings);
        m_dump = std::make_unique<test::TempDump>(test::uiFixture(600, 8, 2, 3));
        m_other = std::make_unique<test::TempDump>(test::uiFixture(300, 4, 1, 2, false), test::StorageOptions{}, "other.h5");
        m_junk = m_out.filePath(QStringLiteral("broken.h5"));
        QFile junk(m_junk);
        QVERIFY(junk.open(QIODevice::WriteOnly));
        junk.write("\x89HDF\r\n\x1a\n truncated");
    }

    void badFileShowsErrorAndWindowStaysUsable()
    {
        MainWindow window;
        window.show();
        QSignalSpy failed(&window, &MainWindow::openFailed);
        QSignalSpy shown(&window, &MainWindow::dumpShown);
        window.openFile(m_junk);
        QVERIFY(failed.wait(10000));
        QCOMPARE(failed.first().at(0).toString(), m_junk);
        QVERIFY(window.banner()->isVisible());
        QVERIFY(window.banner()->text().contains(QStringLiteral("broken.h5")));
        QVERIFY(!window.snapshot());

        // Still usable: a good file opens, and the banner goes.
        window.openFile(m_dump->qpath());
        QVERIFY(shown.wait(15000));
        QVERIFY(window.snapshot());
        QVERIFY(!window.banner()->isVisible());
        QVERIFY(window.windowTitle().contains(QStringLiteral("test-moe")));

        // A bad file after a good one keeps the good one on screen.
        window.openFile(m_out.filePath(QStringLiteral("absent.h5")));
        QVERIFY(failed.wait(10000));
        QVERIFY(window.banner()->text().contains(QStringLiteral("absent.h5")));

        // A file so damaged that HDF5 itself crashes on it: an error, not a dead window.
        const QString damaged = m_out.filePath(QStringLiteral("damaged.h5"));
        QVERIFY(test::writeDamagedHeapCopy(m_dump->qpath(), damaged, 25));
        window.openFile(damaged);
        QVERIFY(failed.wait(10000));
        QVERIFY2(window.banner()->text().contains(QStringLiteral("damaged.h5")), qPrintable(window.banner()->text()));
        QCOMPARE(window.snapshot()->path, m_dump->qpath());
        QCOMPARE(window.snapshot()->path, m_dump->qpath());
        QVERIFY(window.windowTitle().contains(QStringLiteral("dump.h5")));
    }

    void latestOpenWins()
    {
        MainWindow window;
        window.show();
        QSignalSpy shown(&window, &MainWindow::dumpShown);
        window.openFile(m_dump->qpath());
        window.openFile(m_other->qpath());
        QVERIFY(shown.wait(15000));
        QVERIFY(test::jobsComeBack(window.loader()->job())); // the first open too
        QCOMPARE(shown.count(), 1);
        QCOMPARE(window.snapshot()->path, m_other->qpath());
        QVERIFY(!window.loader()->job()->isBusy());
    }

    void dropOpensFile()
    {
        MainWindow window;
        window.show();
        QSignalSpy shown(&window, &MainWindow::dumpShown);
        QMimeData mime;
        mime.setUrls({QUrl::fromLocalFile(m_dump->qpath())});
        QDragEnterEvent enter(QPoint(10, 10), Qt::CopyAction, &mime, Qt::LeftButton, Qt::NoModifier);
        QApplication::sendEvent(&window, &enter);
        QVERIFY(enter.isAccepted());
        QDropEvent drop(QPointF(10, 10), Qt::CopyAction, &mime, Qt::LeftButton, Qt::NoModifier);
        QApplication::sendEvent(&window, &drop);
        QVERIFY(shown.wait(15000));
        QCOMPARE(window.snapshot()->path, m_dump->qpath());
    }

    void recentFilesAndLayoutAreRemembered()
    {
        {
            MainWindow window;
            window.show();
            QSignalSpy shown(&window, &MainWindow::dumpShown);
            window.openFile(m_other->qpath());
            QVERIFY(shown.wait(15000));
            window.openFile(m_dump->qpath());
            QVERIFY(shown.wait(15000));
            QCOMPARE(window.recentFiles().value(0), QFileInfo(m_dump->qpath()).absoluteFilePath());
            QCOMPARE(window.recentFiles().value(1), QFileInfo(m_other->qpath()).absoluteFilePath());
            window.resize(1111, 777);
            window.close();
        }
        QSettings settings;
        QVERIFY(!settings.value(QStringLiteral("window/state")).toByteArray().isEmpty());
        MainWindow again;
        QCOMPARE(again.size(), QSize(1111, 777));
        QCOMPARE(again.recentFiles().value(0), QFileInfo(m_dump->qpath()).absoluteFilePath());
    }

    void searchIsDebouncedAndAnswersTheReverseQuestion()
    {
        MainWindow window;
        QVERIFY(test::showDump(window, m_dump->qpath()));
        ExpertProfileView *profile = window.profile();
        QSignalSpy answered(profile, &ExpertProfileView::searchAnswered);
        QElapsedTimer clock;
        clock.start();
        QTest::keyClicks(profile->searchBox(), QStringLiteral("tok5"));
        QCOMPARE(answered.count(), 0); // nothing yet: typing is still going on
        QVERIFY(answered.wait(5000));
        // A coarse timer may fire up to 5 % early.
        QVERIFY(clock.elapsed() >= ExpertProfileView::kSearchDelayMs * 0.94);
        QCOMPARE(answered.count(), 1); // one answer for four keystrokes
        QCOMPARE(answered.first().at(0).toString(), QStringLiteral("tok5"));
        QVERIFY(profile->routesModel()->rowCount() > 0);
        for (const TokenRoute &r : profile->routesModel()->routes())
            QCOMPARE(r.tokenId, 5);
        QCOMPARE(window.selection()->current().tokenId, 5);
        for (int r = 0; r < profile->profileProxy()->rowCount(); ++r)
            QVERIFY(profile->profileProxy()->index(r, 0).data().toString().contains(QStringLiteral("tok5")));
    }

    void trainingPageFollowsTheDump()
    {
        MainWindow window;
        window.show();
        QSignalSpy shown(&window, &MainWindow::dumpShown);
        window.openFile(m_dump->qpath());
        QVERIFY(shown.wait(15000));
        QVERIFY(window.training()->plot()->hasChartData());
        window.openFile(m_other->qpath());
        QVERIFY(shown.wait(15000));
        QVERIFY(!window.training()->plot()->hasChartData());
    }

    // Ctrl+1 .. Ctrl+6 bring each view to the front, showing it again if it was closed;
    // Ctrl+F goes to the token search.
    void keysBringViewsToTheFront()
    {
        MainWindow window;
        QVERIFY(test::showDump(window, m_dump->qpath()));
        QVERIFY(QTest::qWaitForWindowActive(&window));
        auto *training = window.findChild<QDockWidget *>(QStringLiteral("trainingDock"));
        QTest::keyClick(&window, Qt::Key_1, Qt::ControlModifier);
        QTRY_VERIFY(!window.pairs()->isOnScreen()); // the same tab stack: one shows at a time
        QTest::keyClick(&window, Qt::Key_2, Qt::ControlModifier);
        QTRY_VERIFY(window.pairs()->isOnScreen());
        QTest::keyClick(&window, Qt::Key_3, Qt::ControlModifier);
        QTRY_VERIFY(!window.pairs()->isOnScreen());
        training->close();
        QTRY_VERIFY(training->isHidden());
        QTest::keyClick(&window, Qt::Key_3, Qt::ControlModifier);
        QTRY_VERIFY(!training->isHidden());
        QTest::keyClick(&window, Qt::Key_F, Qt::ControlModifier);
        QTRY_VERIFY(window.profile()->searchBox()->hasFocus());
    }

    // The overview fills in layer by layer: one partial snapshot per layer, in order,
    // each holding the reports of the layers done so far, the very ones of the full
    // analysis that follows; the other views only ever see the full snapshot.
    void overviewFillsInLayerByLayer()
    {
        MainWindow window;
        window.loader()->setUseCache(false); // the pass itself, not an earlier run's summary
        QSignalSpy partials(window.loader(), &DumpLoader::layerAnalysed);
        QVERIFY(test::showDump(window, m_dump->qpath()));
        window.loader()->setUseCache(true);
        const DumpSnapshotPtr full = window.snapshot();
        QVERIFY(!full->partial);
        const int L = full->numLayers();
        QCOMPARE(partials.count(), L);
        for (int i = 0; i < L; ++i) {
            const auto partial = partials.at(i).at(0).value<DumpSnapshotPtr>();
            QVERIFY(partial->partial);
            QCOMPARE(partials.at(i).at(1).toInt(), i + 1);
            QCOMPARE(partials.at(i).at(2).toInt(), L);
            QCOMPARE(partial->numLayers(), i + 1);
            for (int l = 0; l <= i; ++l) {
                QCOMPARE(partial->analysis.report.layers[std::size_t(l)].counts,
                         full->analysis.report.layers[std::size_t(l)].counts);
                QCOMPARE(partial->analysis.report.layers[std::size_t(l)].load.cv,
                         full->analysis.report.layers[std::size_t(l)].load.cv);
            }
        }
        QCOMPARE(window.overview()->snapshot(), full);
        QCOMPARE(window.overview()->healthModel()->rowCount(), L);
    }

    // While a dump loads, the overview shows its first layers but every other view
    // still shows the dump before it: a click on the loading dump's layers (a row of
    // the table, a cell of the heatmap) selects nothing, since that layer or expert
    // need not exist in the dump the other views show.
    void clickOnLoadingDumpSelectsNothing()
    {
        MainWindow window;
        window.show();
        QVERIFY(test::showDump(window, m_other->qpath())); // 2 layers of 4 experts
        const Selection before = window.selection()->current();
        bool rowClicked = false, cellClicked = false;
        connect(window.loader(), &DumpLoader::layerAnalysed, &window, [&](const DumpSnapshotPtr &, int done, int) {
            if (done != 3 || rowClicked)
                return;
            OverviewView *overview = window.overview();
            QVERIFY(overview->snapshot()->partial);
            QAbstractItemModel *rows = overview->healthTable()->model();
            for (int r = 0; r < rows->rowCount(); ++r) {
                const QModelIndex i = rows->index(r, 0);
                if (i.data(LayerHealthModel::LayerRole).toInt() != 2)
                    continue;
                overview->healthTable()->selectionModel()->setCurrentIndex(
                    i, QItemSelectionModel::ClearAndSelect | QItemSelectionModel::Rows);
                rowClicked = true;
            }
            LoadHeatmapPlot *heatmap = overview->heatmap();
            QWidget *canvas = test::chartCanvas(heatmap);
            QVERIFY(canvas);
            const auto point = test::pointWhere(canvas, [heatmap](const QPoint &p) {
                int layer = -1, expert = -1;
                return heatmap->cellAt(p, layer, expert) && layer == 2 && expert == 7;
            });
            if (point) {
                QTest::mouseClick(canvas, Qt::LeftButton, {}, *point);
                cellClicked = true;
            }
            QCOMPARE(window.selection()->current().layer, before.layer);
            QCOMPARE(window.selection()->current().expert, before.expert);
        });
        QSignalSpy shown(&window, &MainWindow::dumpShown);
        window.openFile(m_dump->qpath()); // 3 layers of 8 experts
        QVERIFY(shown.wait(15000));
        QVERIFY(rowClicked);
        QVERIFY(cellClicked);
        QCOMPARE(window.snapshot()->path, m_dump->qpath());
    }

    // The pairs view counts the selected layer's pairs (checked against a count made
    // here), follows the layer, and a click follows the pair: the partner expert, or the
    // next layer's expert for transitions. The GPU (PoCL in CI) gives the same counts.
    void expertPairsFollowTheSelection()
    {
        MainWindow window;
        QVERIFY(test::showDump(window, m_dump->qpath()));
        ExpertPairsView *view = window.pairs();
        ExpertPairsPlot *plot = view->plot();
        QSignalSpy counted(view, &ExpertPairsView::counted);
        view->setDevice(Device::Cpu);
        view->setKind(PairKind::CoActivation);
        window.selection()->setLayerAndExpert(1, 0);
        window.findChild<QDockWidget *>(QStringLiteral("pairsDock"))->raise();
        QVERIFY(counted.wait(15000));
        const auto snapshot = window.snapshot();
        const LayerChoices &choices = snapshot->analysis.pass(1)->choices;
        std::vector<std::int64_t> expected(64, 0);
        for (std::int64_t t = 0; t < choices.numPositions(); ++t) {
            if (!choices.valid[std::size_t(t)])
                continue;
            std::set<int> set(choices.ids.begin() + t * 2, choices.ids.begin() + t * 2 + 2);
            for (int a : set)
                for (int b : set)
                    ++expected[std::size_t(a * 8 + b)];
        }
        QCOMPARE(plot->pairs().layer, 1);
        QCOMPARE(plot->pairs().counts, expected);
        QVERIFY(plot->hasChartData());
        QCOMPARE(plot->chartName(), QStringLiteral("co-activation"));

        // A click on row 0 (the selected expert) at its strongest partner selects it.
        int partner = -1;
        for (int e2 = 1; e2 < 8; ++e2)
            if (partner < 0 || expected[std::size_t(e2)] > expected[std::size_t(partner)])
                partner = e2;
        QVERIFY(clickPairCell(plot, 0, partner));
        QCOMPARE(window.selection()->current().layer, 1);
        QCOMPARE(window.selection()->current().expert, partner);

        view->setKind(PairKind::Transitions);
        QVERIFY(counted.wait(15000));
        QCOMPARE(plot->chartName(), QStringLiteral("transitions"));
        std::int64_t total = 0;
        for (std::int64_t n : plot->pairs().counts)
            total += n;
        QCOMPARE(total, choices.validTokens());
        // A click on the busiest transition follows its tokens into the next layer.
        const auto &m = plot->pairs().counts;
        const std::size_t busiest = std::size_t(std::max_element(m.begin(), m.end()) - m.begin());
        const int from = int(busiest / 8), to = int(busiest % 8);
        QVERIFY(clickPairCell(plot, from, to));
        QCOMPARE(window.selection()->current().layer, 2);
        QCOMPARE(window.selection()->current().expert, to);
        QVERIFY(!plot->hasChartData()); // layer 2 is the last: nothing follows it

        // Back to layer 0 on the OpenCL backend: the counts the CPU gives.
        window.selection()->setLayer(0);
        QVERIFY(counted.wait(15000));
        const std::vector<std::int64_t> onCpu = plot->pairs().counts;
        view->setDevice(Device::Gpu);
        QVERIFY(counted.wait(30000));
        QVERIFY2(plot->pairs().device.startsWith(u"opencl"), qPrintable(plot->pairs().device));
        QCOMPARE(plot->pairs().counts, onCpu);
    }

    // A new dump while the pairs view is behind another tab: the old dump's pairs are
    // gone (no export of them). A cancelled count says so, and F5 counts again.
    void expertPairsNeverShowStalePairs()
    {
        MainWindow window;
        QVERIFY(test::showDump(window, m_dump->qpath()));
        QVERIFY(QTest::qWaitForWindowActive(&window));
        ExpertPairsView *view = window.pairs();
        ExpertPairsPlot *plot = view->plot();
        QSignalSpy counted(view, &ExpertPairsView::counted);
        view->setDevice(Device::Cpu);
        view->setKind(PairKind::Transitions);
        window.selection()->setLayer(0);
        QTest::keyClick(&window, Qt::Key_2, Qt::ControlModifier);
        QTRY_VERIFY(plot->hasChartData());
        QCOMPARE(plot->pairs().numExperts, 8);
        QTest::keyClick(&window, Qt::Key_1, Qt::ControlModifier);
        QTRY_VERIFY(!view->isOnScreen());
        QSignalSpy shown(&window, &MainWindow::dumpShown);
        window.openFile(m_other->qpath());
        QVERIFY(shown.wait(15000));
        QVERIFY(!plot->hasChartData());
        QTest::keyClick(&window, Qt::Key_2, Qt::ControlModifier);
        QTRY_VERIFY(plot->hasChartData());
        QCOMPARE(plot->pairs().numExperts, 4);

        // Cancelled: nothing under the title, a word in the status; F5 counts again.
        view->setKind(PairKind::CoActivation); // k = 1 there: nothing to count
        QVERIFY(!plot->hasChartData());
        view->setKind(PairKind::Transitions);
        QVERIFY(view->job()->isBusy());
        const qsizetype countedBefore = counted.count();
        view->job()->cancel();
        QVERIFY(test::jobsComeBack(view->job()));
        QCOMPARE(counted.count(), countedBefore);
        QVERIFY(!plot->hasChartData());
        QCOMPARE(plot->chartName(), QStringLiteral("transitions"));
        counted.clear();
        QTest::keyClick(view, Qt::Key_F5);
        QVERIFY(counted.count() > 0 || counted.wait(15000));
        QVERIFY(plot->hasChartData());
    }

    void routingMapZoomsClicksAndExplains()
    {
        MainWindow window;
        window.resize(1400, 900);
        window.show();
        QSignalSpy shown(&window, &MainWindow::dumpShown);
        window.openFile(m_dump->qpath());
        QVERIFY(shown.wait(15000));
        RoutingMapCanvas *map = window.routingMap()->canvas();
        QVERIFY(QTest::qWaitForWindowExposed(&window));
        const double fitted = map->pixelsPerToken();
        map->showRange(10, 30);
        QVERIFY(map->pixelsPerToken() > fitted);
        QVERIFY(map->viewBegin() >= 9.5 && map->viewBegin() <= 10.5);

        // Find a cell: scan the viewport for a point inside the map.
        QPoint cell;
        std::int64_t position = -1;
        int layer = -1;
        for (int y = 0; y < map->viewport()->height() && position < 0; y += 4)
            for (int x = map->viewport()->width() / 2; x < map->viewport()->width() && position < 0; x += 4)
                if (map->cellAt(QPoint(x, y), position, layer))
                    cell = QPoint(x, y);
        QVERIFY(position >= 10 && position < 45);

        // The tooltip names the token, the layer and the experts, then the gate weights.
        QHelpEvent help(QEvent::ToolTip, cell, map->viewport()->mapToGlobal(cell));
        QApplication::sendEvent(map->viewport(), &help);
        QTRY_VERIFY_WITH_TIMEOUT(QToolTip::text().contains(QStringLiteral("expert(s)")), 2000);
        QVERIFY(QToolTip::text().contains(window.snapshot()->tokenDisplay(position).toHtmlEscaped()));
        QTRY_VERIFY_WITH_TIMEOUT(QToolTip::text().contains(QStringLiteral("gate weights")), 5000);

        // A click selects that position, its token, layer and best expert.
        QTest::mouseClick(map->viewport(), Qt::LeftButton, {}, cell);
        const Selection s = window.selection()->current();
        QCOMPARE(s.position, position);
        QCOMPARE(s.layer, layer);
        QCOMPARE(s.tokenId, window.snapshot()->analysis.tokenIds[std::size_t(position)]);
        QCOMPARE(s.expert, window.snapshot()->analysis.bestExpert(std::size_t(layer), position));

        // The wheel zooms around the cursor.
        const double before = map->pixelsPerToken();
        QWheelEvent wheel(QPointF(cell), QPointF(map->viewport()->mapToGlobal(cell)), {}, QPoint(0, -240),
                          Qt::NoButton, Qt::NoModifier, Qt::NoScrollPhase, false);
        QApplication::sendEvent(map->viewport(), &wheel);
        QVERIFY(map->pixelsPerToken() < before);
        map->zoomToFit();
        QCOMPARE(map->viewBegin(), 0.0);
    }

private:
    QTemporaryDir m_settings;
    QTemporaryDir m_out;
    QString m_junk;
    std::unique_ptr<test::TempDump> m_dump, m_other;
};

QTEST_MAIN(MainWindowTest)
#include "MainWindowTest.moc"
