// The window on a load-only dump (counts, no /tokens): it opens, the overview's health
// table shows every layer from its counts, and the note says why the per-token views
// stay empty.
#include "MainWindow.h"
#include "MessageBanner.h"
#include "models/LayerHealthModel.h"
#include "support/TempDump.h"
#include "support/UiFixture.h"
#include "views/OverviewView.h"
#include "views/PlacementView.h"
#include "views/RoutingMapCanvas.h"
#include "views/RoutingMapView.h"

#include <QSignalSpy>
#include <QTest>

using namespace moescope;
using namespace moescope::ui;

class LoadOnlyWindowTest : public QObject {
    Q_OBJECT
private slots:
    void initTestCase() { test::isolateSettings(m_settings); }

    void opensAndSaysWhatIsMissing()
    {
        test::DumpFixture f;
        f.numExperts = 4;
        f.topK = 1;
        f.omit = {"tokens"};
        f.numberAttributes["num_tokens"] = 8;
        for (int l = 0; l < 3; ++l) {
            test::FixtureLayer layer;
            layer.name = "0" + std::to_string(l);
            layer.counts = {5, 2, 1, 0};
            f.layers.push_back(layer);
        }
        test::TempDump dump(f);
        MainWindow window;
        window.show();
        QSignalSpy shown(&window, &MainWindow::dumpShown);
        QSignalSpy placed(window.placement(), &PlacementView::placed);
        window.openFile(dump.qpath());
        QVERIFY(shown.wait(15000));
        QCOMPARE(window.overview()->healthModel()->rowCount(), 3);
        QVERIFY2(window.banner()->text().contains("Load-only"), qPrintable(window.banner()->text()));
        // Placement works from the counts: 4 experts on 4 ranks, one each (contiguous),
        // loads 5, 2, 1, 0 in every layer: the busiest rank carries 5 / 2 = 2.5 x the mean.
        QVERIFY(window.routingMap()->canvas()->emptyText().contains("load-only"));
        QVERIFY(placed.count() > 0 || placed.wait(15000));
        QVERIFY2(window.placement()->statusText().startsWith(QStringLiteral("model straggler 2.500")),
                 qPrintable(window.placement()->statusText()));
    }

private:
    QTemporaryDir m_settings;
};

QTEST_MAIN(LoadOnlyWindowTest)
#include "LoadOnlyWindowTest.moc"
