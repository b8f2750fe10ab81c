// The Placement view offscreen: what it shows against plain computations from the
// snapshot's counts and choices, the linked selection (a click on a rank's segment
// selects that expert), settings that break a rule, and its export.
#include "SelectionModel.h"
#include "export/ChartExport.h"
#include "views/PlacementCanvas.h"
#include "views/PlacementView.h"
#include "support/PlainPlacement.h"
#include "support/UiFixture.h"

#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTextStream>
#include <QtTest>

using namespace moescope;
using namespace moescope::ui;

class PlacementViewTest : public QObject {
    Q_OBJECT
private slots:
    void initTestCase()
    {
        test::isolateSettings(m_settings);
        m_dump = std::make_unique<test::TempDump>(test::uiFixture(600, 8, 2, 3, false));
        m_snapshot = loadSnapshot(m_dump->qpath());
    }

    void showsBothPlacements()
    {
        SelectionModel selection;
        PlacementView view(&selection);
        view.resize(1200, 800);
        view.show();
        QSignalSpy placed(&view, &PlacementView::placed);
        view.setSnapshot(m_snapshot);
        QVERIFY(placed.wait(20000));
        const auto &data = view.canvas()->parameters().data;
        QVERIFY(data);
        // Defaults for E = 8: R = 8, contiguous before, EPLB with 8 redundant after.
        QCOMPARE(data->request.after.ranks, 8);
        QCOMPARE(data->request.after.physicalExperts, 16);
        QCOMPARE(int(data->after.layers.size()), m_snapshot->numLayers());
        for (int l = 0; l < m_snapshot->numLayers(); ++l) {
            const auto &counts = m_snapshot->analysis.report.layers[std::size_t(l)].counts;
            const std::vector<double> w(counts.begin(), counts.end());
            // Before: one expert per rank.
            QCOMPARE(data->before.layers[std::size_t(l)].rankLoad, w);
            auto expected = test::plainGlobalRankLoads(w, 16, 8);
            auto got = data->after.layers[std::size_t(l)].rankLoad;
            std::sort(expected.begin(), expected.end());
            std::sort(got.begin(), got.end());
            for (int r = 0; r < 8; ++r)
                QVERIFY(std::abs(got[std::size_t(r)] - expected[std::size_t(r)]) < 1e-9);
            // The all-to-all is there (the dump holds the choices) and sums to k * T.
            const auto &a = data->after.layers[std::size_t(l)].allToAll;
            QVERIFY(a);
            QVERIFY(std::abs(a->total - 2.0 * double(m_snapshot->analysis.report.layers[std::size_t(l)].tokens)) < 1e-6);
        }
        QVERIFY(view.statusText().contains(QStringLiteral("model straggler")));
    }

    // Clicking a rank's segment selects its expert in the shared selection.
    void clickSelectsExpert()
    {
        SelectionModel selection;
        PlacementView view(&selection);
        view.resize(1200, 800);
        view.show();
        QSignalSpy placed(&view, &PlacementView::placed);
        view.setSnapshot(m_snapshot);
        QVERIFY(placed.wait(20000));
        selection.setLayerAndExpert(1, 0);
        PlacementCanvas *canvas = view.canvas();
        QCOMPARE(canvas->parameters().layer, 1);
        // Find a segment of the canvas that is not expert 0, and click it.
        for (int y = canvas->height() - 1; y > canvas->height() / 2; y -= 7)
            for (int x = 0; x < canvas->width() / 2; x += 7) {
                const PlacementHit hit = canvas->hitAt(QPointF(x, y));
                if (hit.kind != PlacementHit::Segment || hit.expert == 0)
                    continue;
                const auto &placement = canvas->parameters().data->after.layers[1].placement;
                const auto ranks = placement.ranksOf(hit.expert);
                QVERIFY(std::find(ranks.begin(), ranks.end(), hit.rank) != ranks.end());
                // Hover names the expert and how many replicas it has.
                const QString tip = placementToolTip(canvas->parameters(), hit);
                QVERIFY(tip.contains(QStringLiteral("Expert %1 on rank %2").arg(hit.expert).arg(hit.rank)));
                QVERIFY(tip.contains(QStringLiteral("of %1, on ranks").arg(ranks.size())));
                QTest::mouseClick(canvas, Qt::LeftButton, {}, QPoint(x, y));
                QCOMPARE(selection.current().expert, hit.expert);
                QCOMPARE(selection.current().layer, 1);
                QCOMPARE(canvas->parameters().expert, hit.expert); // the outline follows
                return;
            }
        QFAIL("no segment found on the canvas");
    }

    void brokenRuleIsSaid()
    {
        SelectionModel selection;
        PlacementView view(&selection);
        view.show();
        QSignalSpy placed(&view, &PlacementView::placed);
        view.setSnapshot(m_snapshot);
        QVERIFY(placed.wait(20000));
        PlacementRequest r = view.request();
        r.after.ranks = r.before.ranks = 3; // E = 8 is no multiple of 3 (before, no replicas)
        view.setRequest(r);
        QVERIFY(!view.canvas()->parameters().data);
        QCOMPARE(view.statusText(), QStringLiteral("settings break a rule"));
    }

    void exportsCsvAndPng()
    {
        SelectionModel selection;
        PlacementView view(&selection);
        QSignalSpy placed(&view, &PlacementView::placed);
        view.setSnapshot(m_snapshot);
        QVERIFY(placed.wait(20000));
        QString csv;
        QTextStream out(&csv);
        view.canvas()->writeCsv(out);
        out.flush();
        const QStringList lines = csv.split(QStringLiteral("\r\n"), Qt::SkipEmptyParts); // RFC 4180 rows
        QCOMPARE(lines.first(), QStringLiteral("policy,layer,rank,load,relative_to_mean,experts"));
        QCOMPARE(lines.size(), 1 + 2 * m_snapshot->numLayers() * 8);
        QTemporaryDir dir;
        const QString png = dir.filePath(QStringLiteral("placement.png"));
        QCOMPARE(exportChart(*view.canvas(), png, {}), QString());
        QImage image(png);
        QCOMPARE(image.size(), placementExportSize());
    }

private:
    QTemporaryDir m_settings;
    std::unique_ptr<test::TempDump> m_dump;
    DumpSnapshotPtr m_snapshot;
};

QTEST_MAIN(PlacementViewTest)
#include "PlacementViewTest.moc"
