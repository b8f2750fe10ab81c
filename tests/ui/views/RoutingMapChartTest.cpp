// The routing map drawn without a widget (renderRoutingMap, as the export command and
// the report draw it) against what the live view paints, and the view's token marks
// against a plain scan of the dump.
#include "views/RoutingMapChart.h"
#include "support/UiFixture.h"
#include "views/RoutingMapBins.h"
#include "views/RoutingMapCanvas.h"

#include <QApplication>
#include <QImage>
#include <QPainter>
#include <QTest>

using namespace moescope;
using namespace moescope::ui;

namespace {
QImage render(const DumpSnapshot &snapshot, const RoutingMapParameters &parameters, const QSize &size)
{
    QImage image(size, QImage::Format_RGB32);
    image.fill(Qt::black);
    QPainter painter(&image);
    renderRoutingMap(snapshot, parameters, painter, size);
    return image;
}

int differingPixels(const QImage &a, const QImage &b)
{
    if (a.size() != b.size())
        return -1;
    int n = 0;
    for (int y = 0; y < a.height(); ++y)
        for (int x = 0; x < a.width(); ++x)
            n += a.pixel(x, y) != b.pixel(x, y);
    return n;
}
} // namespace

class RoutingMapChartTest : public QObject {
    Q_OBJECT
private slots:
    void initTestCase()
    {
        m_dump = std::make_unique<test::TempDump>(test::uiFixture(600, 8, 2, 3, false));
        m_snapshot = loadSnapshot(m_dump->qpath());
        QVERIFY(m_snapshot);
    }

    void viewPaintsWhatTheFunctionRenders_data()
    {
        QTest::addColumn<double>("begin");
        QTest::addColumn<double>("count"); // 0: fitted
        QTest::addColumn<int>("expert");
        QTest::addColumn<bool>("dim");
        QTest::newRow("fitted, no highlight") << 0.0 << 0.0 << -1 << true;
        QTest::newRow("fitted, expert 2 highlighted") << 0.0 << 0.0 << 2 << true;
        QTest::newRow("zoomed to token text, expert 5") << 40.0 << 30.0 << 5 << true;
        QTest::newRow("zoomed, not dimmed") << 100.0 << 80.0 << 3 << false;
    }

    void viewPaintsWhatTheFunctionRenders()
    {
        QFETCH(double, begin);
        QFETCH(double, count);
        QFETCH(int, expert);
        QFETCH(bool, dim);
        RoutingMapCanvas map;
        map.resize(900, 260);
        map.show();
        QVERIFY(QTest::qWaitForWindowExposed(&map));
        map.setSnapshot(m_snapshot);
        map.setSequence(1);
        const std::int64_t position = m_snapshot->sequenceBegin(1) + 50;
        Selection selection;
        selection.layer = 1;
        selection.expert = expert;
        selection.position = position;
        selection.tokenId = m_snapshot->analysis.tokenIds[std::size_t(position)];
        map.setSelection(selection);
        map.setDimOthers(dim);
        if (count > 0)
            map.showRange(begin, count);
        // The fixture's windows are small enough to be binned at once, so the view
        // has its cells as soon as it paints.
        const QImage shown = map.viewport()->grab().toImage().convertToFormat(QImage::Format_RGB32);

        RoutingMapParameters parameters = map.chartParameters();
        parameters.withTitle = false; // the view has no title line
        QCOMPARE(parameters.sequence, std::int64_t(1));
        QCOMPARE(parameters.selection, selection);
        const QImage rendered = render(*m_snapshot, parameters, map.viewport()->size());
        QCOMPARE(differingPixels(shown, rendered), 0);
    }

    // A dump whose layers do not fit in memory: a short window reads only its own
    // positions of each recorded layer, and bins exactly as with every layer in memory.
    void windowOfALargeDumpBinsAsInMemory()
    {
        test::DumpFixture f = test::uiFixture(600, 8, 2, 3, false);
        for (std::size_t l = 0; l < f.layers.size(); ++l) {
            test::FixtureLayer &layer = f.layers[l];
            layer.topkIds.clear();
            for (int t = 0; t < 600; ++t) {
                const int a = (t / 7 + int(l)) % 8, b = (a + 1 + t % 5) % 8;
                layer.topkIds.push_back(a);
                layer.topkIds.push_back(b);
            }
            if (l > 0)
                layer.logits.clear(); // layer 0 keeps its logits: recorded choices come first
        }
        test::TempDump file(f);
        const DumpSnapshotPtr all = loadSnapshot(file.qpath());
        QVERIFY(all->analysis.layers->allResident());
        auto some = std::make_shared<DumpSnapshot>();
        some->path = file.qpath();
        some->dump = std::make_shared<const RoutingDump>(file.path());
        const std::size_t oneLayer = LayerStore::passBytes(some->dump->info().layers[0], 600, 2);
        some->analysis = analyzeDump(some->dump, {}, {}, {}, oneLayer);
        QVERIFY(!some->analysis.layers->allResident());
        for (const auto &[begin, end, columns, expert] :
             {std::tuple<int, int, int, int>{200, 260, 16, 3}, {0, 100, 100, 0}, {599, 600, 4, -1}}) {
            RoutingWindowRequest request;
            request.begin = begin;
            request.end = end;
            request.columns = columns;
            request.highlightExpert = expert;
            const RoutingWindow want = binRoutingMap(*all, request), got = binRoutingMap(*some, request);
            QCOMPARE(got.begin, want.begin);
            QCOMPARE(got.end, want.end);
            QCOMPARE(got.columns, want.columns);
            QCOMPARE(got.layers, 3);
            QCOMPARE(got.expert, want.expert);
            QCOMPARE(got.highlight, want.highlight);
            for (std::size_t l = 0; l < 3; ++l) // read for the window alone: no layer kept whole
                QVERIFY(!some->analysis.layers->resident(l));
        }
    }

    void highlightedExpertChangesTheRendering()
    {
        RoutingMapParameters parameters;
        parameters.sequence = 2;
        const QSize size(800, 300);
        const QImage none = render(*m_snapshot, parameters, size);
        parameters.selection.expert = 2;
        const QImage two = render(*m_snapshot, parameters, size);
        parameters.selection.expert = 3;
        const QImage three = render(*m_snapshot, parameters, size);
        // Highlighting fades most cells: a large part of the map changes.
        QVERIFY(differingPixels(none, two) > 5000);
        QVERIFY(differingPixels(two, three) > 5000);
        // Without dimming only the legend's frame moves.
        parameters.dimOthers = false;
        const QImage undimmed = render(*m_snapshot, parameters, size);
        QVERIFY(differingPixels(undimmed, three) > 5000);
        const int legendOnly = differingPixels(undimmed, none);
        QVERIFY(legendOnly > 0 && legendOnly < 1000);
    }

    void tokenMarksAreTheTokensPositions()
    {
        RoutingMapCanvas map;
        map.setSnapshot(m_snapshot);
        const auto &ids = m_snapshot->analysis.tokenIds;
        for (const std::int64_t tokenId :
             {ids.front(), ids[300], ids.back(), std::int64_t(-7), std::int64_t(1) << 40}) {
            Selection selection;
            selection.tokenId = tokenId;
            map.setSelection(selection);
            std::vector<std::int64_t> expected;
            for (std::size_t t = 0; t < ids.size(); ++t)
                if (ids[t] == tokenId)
                    expected.push_back(std::int64_t(t));
            const auto positions = map.tokenPositions();
            QCOMPARE(std::vector<std::int64_t>(positions.begin(), positions.end()), expected);
        }
        QCOMPARE(map.tokenPositions().size(), std::size_t(0)); // the last id never occurs
        // A token's marks show in the rendering.
        RoutingMapParameters parameters;
        const QImage unmarked = render(*m_snapshot, parameters, QSize(800, 300));
        parameters.selection.tokenId = ids[10];
        QVERIFY(differingPixels(render(*m_snapshot, parameters, QSize(800, 300)), unmarked) > 0);
    }

private:
    std::unique_ptr<test::TempDump> m_dump;
    DumpSnapshotPtr m_snapshot;
};

QTEST_MAIN(RoutingMapChartTest)
#include "RoutingMapChartTest.moc"
