// Exports: every chart to PNG, SVG, PDF and CSV, each file loading back and holding
// the chart's words (SVG, PDF) or the dump's numbers (CSV); the report PDF with the
// expected pages and headings; a chart set up outside the window equal to the one the
// window shows; and no half-written file on failure.
#include "ExportedText.h"
#include "MainWindow.h"
#include "SelectionModel.h"
#include "support/UiFixture.h"
#include "export/ChartExport.h"
#include "export/ChartSource.h"
#include "export/ReportWriter.h"
#include "PlacementComparison.h"
#include "plots/LoadHeatmapPlot.h"
#include "plots/UtilizationPlot.h"
#include "views/OverviewView.h"
#include "views/UtilizationView.h"

#include <QFile>
#include <QImage>
#include <QImageReader>
#include <QRegularExpression>
#include <QSignalSpy>
#include <QSvgRenderer>
#include <QTest>

using namespace moescope;
using namespace moescope::ui;

namespace {
int pdfPageCount(const QString &path)
{
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly))
        return -1;
    const QByteArray pdf = f.readAll();
    if (!pdf.startsWith("%PDF-") || !pdf.trimmed().endsWith("%%EOF"))
        return -1;
    // Page objects, not the /Pages tree node.
    static const QRegularExpression page(QStringLiteral("/Type\\s*/Page(?![s\\w])"));
    int n = 0;
    for (auto it = page.globalMatch(QString::fromLatin1(pdf)); it.hasNext(); it.next())
        ++n;
    return n;
}

// A phrase each chart always shows, title or axis label.
QString chartWords(const QString &chart)
{
    if (chart == u"overview")
        return QStringLiteral("expert load / layer mean");
    if (chart == u"utilization")
        return QStringLiteral("tokens per expert");
    if (chart == u"routing-map")
        return QStringLiteral("Routing map: sequence");
    if (chart == u"profile")
        return QStringLiteral("tokens routed to the expert");
    return QStringLiteral("Router health over training");
}

QString readAll(const QString &path)
{
    QFile f(path);
    return f.open(QIODevice::ReadOnly) ? QString::fromUtf8(f.readAll()) : QString();
}
} // namespace

class ExportTest : public QObject {
    Q_OBJECT
private slots:
    void initTestCase()
    {
        test::isolateSettings(m_settings);
        m_dump = std::make_unique<test::TempDump>(test::uiFixture(600, 8, 2, 3));
        m_window = std::make_unique<MainWindow>();
        m_window->show();
        QSignalSpy shown(m_window.get(), &MainWindow::dumpShown);
        m_window->openFile(m_dump->qpath());
        QVERIFY(shown.wait(15000));
        m_window->selection()->setLayerAndExpert(1, 2);
        // The profile is computed in the background; wait for it.
        QTRY_VERIFY_WITH_TIMEOUT(chart(QStringLiteral("profile"))->hasChartData(), 5000);
    }

    void everyChartEveryFormat_data()
    {
        QTest::addColumn<QString>("chart");
        QTest::addColumn<QString>("suffix");
        for (const char *chartName : {"overview", "utilization", "routing-map", "profile", "training"})
            for (const char *suffix : {"png", "svg", "pdf", "csv"})
                QTest::addRow("%s.%s", chartName, suffix) << chartName << suffix;
    }

    void everyChartEveryFormat()
    {
        QFETCH(QString, chart);
        QFETCH(QString, suffix);
        ChartSource *source = this->chart(chart);
        QVERIFY(source);
        QVERIFY(source->hasChartData());
        const QString path = m_out.filePath(chart + u'.' + suffix);
        ExportOptions options;
        options.size = QSize(800, 500);
        options.dpi = 144;
        QCOMPARE(exportChart(*source, path, options), QString());
        QVERIFY(QFile::exists(path));
        if (suffix == u"png") {
            const QImage image(path);
            QVERIFY(!image.isNull());
            QCOMPARE(image.size(), QSize(1200, 750)); // 800 x 500 at 144 dpi
            QCOMPARE(qRound(image.dotsPerMeterX() * 0.0254), 144);
            // Not a blank page: the chart drew something besides the background.
            QSet<QRgb> colours;
            for (int y = 0; y < image.height(); y += 7)
                for (int x = 0; x < image.width(); x += 7)
                    colours.insert(image.pixel(x, y));
            QVERIFY2(colours.size() > 8, qPrintable(QStringLiteral("%1 colours").arg(colours.size())));
        } else if (suffix == u"svg") {
            QSvgRenderer svg(path);
            QVERIFY(svg.isValid());
            QCOMPARE(svg.defaultSize(), QSize(800, 500));
            const QString text = test::svgText(path);
            QVERIFY2(text.startsWith(QStringLiteral("MoE Scope: ") + chart), qPrintable(text.left(200)));
            QVERIFY2(text.contains(chartWords(chart)), qPrintable(text));
        } else if (suffix == u"pdf") {
            QCOMPARE(pdfPageCount(path), 1);
            const QString text = test::pdfText(path);
            QVERIFY2(text.contains(chartWords(chart)), qPrintable(text));
        } else {
            QFile f(path);
            QVERIFY(f.open(QIODevice::ReadOnly));
            const QList<QByteArray> lines = f.readAll().split('\n');
            QVERIFY(lines.size() > 2);
            const int columns = int(lines[0].count(',')) + 1;
            QVERIFY(columns >= 3);
        }
    }

    // The histogram's CSV: the selected layer's counts and shares, as the analysis
    // holds them, one row per expert.
    void utilizationCsvHoldsTheLayersCounts()
    {
        const QString path = m_out.filePath(QStringLiteral("layer-counts.csv"));
        QCOMPARE(exportChart(*chart(QStringLiteral("utilization")), path), QString());
        const QStringList lines = readAll(path).split(u'\n', Qt::SkipEmptyParts);
        const LayerReport &layer = m_window->snapshot()->analysis.report.layers[1];
        QCOMPARE(lines.size(), 1 + int(layer.counts.size()));
        std::int64_t total = 0;
        for (qsizetype e = 0; e < qsizetype(layer.counts.size()); ++e) {
            const QStringList fields = lines[e + 1].split(u',');
            QCOMPARE(fields[1].toLongLong(), e);
            QCOMPARE(fields[2].toLongLong(), layer.counts[std::size_t(e)]);
            QVERIFY(qAbs(fields[3].toDouble() - layer.load.share[std::size_t(e)]) < 1e-9); // 10 digits in CSV
            total += fields[2].toLongLong();
        }
        QCOMPARE(total, std::int64_t(layer.tokens) * m_window->snapshot()->analysis.report.topK);
    }

    // The window's charts and a chart set up from (snapshot, parameters) alone, as
    // `moescope export` and the report do it, are the same chart: the same data out.
    void viewAndStandaloneChartAgree()
    {
        const DumpSnapshotPtr snapshot = m_window->snapshot();
        UtilizationPlot histogram;
        histogram.showChart(snapshot, {1, 2});
        LoadHeatmapPlot heatmap;
        heatmap.showChart(snapshot, {1, 2});
        for (const auto &[shown, standalone] :
             {std::pair<ChartSource *, ChartSource *>{m_window->utilization()->plot(), &histogram},
              std::pair<ChartSource *, ChartSource *>{m_window->overview()->heatmap(), &heatmap}}) {
            const QString name = shown->chartName();
            const QString a = m_out.filePath(name + QStringLiteral("-view.svg")),
                          b = m_out.filePath(name + QStringLiteral("-alone.svg"));
            ExportOptions options;
            options.size = QSize(700, 400);
            QCOMPARE(exportChart(*shown, a, options), QString());
            QCOMPARE(exportChart(*standalone, b, options), QString());
            QCOMPARE(test::svgText(b), test::svgText(a));
            QCOMPARE(exportChart(*shown, a + ".csv"), QString());
            QCOMPARE(exportChart(*standalone, b + ".csv"), QString());
            QCOMPARE(readAll(b + ".csv"), readAll(a + ".csv"));
        }
    }

    void routingMapCsvHasOneRowPerToken()
    {
        // The map exports the positions in view: here, fitted, its whole sequence.
        ChartSource *map = chart(QStringLiteral("routing-map"));
        const QString path = m_out.filePath(QStringLiteral("map-rows.csv"));
        QCOMPARE(exportChart(*map, path), QString());
        QFile f(path);
        QVERIFY(f.open(QIODevice::ReadOnly));
        const QByteArray header = f.readLine();
        QVERIFY(header.startsWith("position,sequence,position_in_sequence,token_id,token,layer_"));
        int rows = 0;
        while (!f.readLine().isEmpty())
            ++rows;
        QVERIFY(rows > 0 && rows <= 200); // one sequence of the 600-token dump
    }

    void reportHasTheExpectedPages()
    {
        ReportContent content;
        content.snapshot = m_window->snapshot();
        content.layer = 1;
        content.sequence = 2;
        content.profiles = busiestExpertProfiles(*content.snapshot, 1);
        QCOMPARE(int(content.profiles.size()), kReportProfiles);
        QVERIFY(content.profiles[0].routed >= content.profiles[1].routed);
        const QString path = m_out.filePath(QStringLiteral("report.pdf"));
        QCOMPARE(writeReport(content, path), QString());
        QCOMPARE(pdfPageCount(path), reportPageCount(3, kReportProfiles));
        QCOMPARE(reportPageCount(3, 4), 1 + 1 + 2 + 1 + 2);
        const QString text = test::pdfText(path);
        for (const QString &heading : {QStringLiteral("MoE Scope report"), QStringLiteral("Layer health"),
                                       QStringLiteral("Utilization by layer"), QStringLiteral("Routing map"),
                                       QStringLiteral("Busiest experts of layer"), QStringLiteral("tokens routed"),
                                       QStringLiteral("page 7 of 7")})
            QVERIFY2(text.contains(heading), qPrintable(heading + u'\n' + text));
    }

    // With a placement the report gains its page, after the routing map.
    void reportWithPlacementPage()
    {
        ReportContent content;
        content.snapshot = m_window->snapshot();
        content.placement = std::make_shared<const PlacementComparison>(
            comparePlacements(*content.snapshot, defaultPlacementRequest(content.snapshot->numExperts())));
        const QString path = m_out.filePath(QStringLiteral("report-placement.pdf"));
        QCOMPARE(writeReport(content, path), QString());
        QCOMPARE(reportPageCount(3, 0, true), reportPageCount(3, 0) + 1);
        QCOMPARE(pdfPageCount(path), reportPageCount(3, 0, true));
        const QString text = test::pdfText(path);
        QVERIFY2(text.contains(QStringLiteral("Expert-parallel placement")), qPrintable(text));
        QVERIFY2(text.contains(QStringLiteral("Straggler factor per layer")), qPrintable(text));
    }

    void failureLeavesNoHalfWrittenFile()
    {
        ChartSource *source = chart(QStringLiteral("overview"));
        // A directory that does not exist: an error naming the file, and no file.
        const QString missing = m_out.filePath(QStringLiteral("no/such/dir/out.png"));
        QVERIFY(exportChart(*source, missing).contains(missing));
        QVERIFY(!QFile::exists(missing));
        // A refused export keeps the previous file as it was.
        const QString existing = m_out.filePath(QStringLiteral("keep.png"));
        QCOMPARE(exportChart(*source, existing), QString());
        QFile before(existing);
        QVERIFY(before.open(QIODevice::ReadOnly));
        const QByteArray original = before.readAll();
        before.close();
        ExportOptions huge;
        huge.size = QSize(20000, 20000);
        huge.dpi = 1200;
        QVERIFY(!exportChart(*source, existing, huge).isEmpty());
        QFile after(existing);
        QVERIFY(after.open(QIODevice::ReadOnly));
        QCOMPARE(after.readAll(), original);
        // An unknown suffix is refused up front.
        QVERIFY(exportChart(*source, m_out.filePath(QStringLiteral("x.gif"))).contains(QStringLiteral("unknown file type")));
    }

    void cleanupTestCase() { m_window.reset(); }

private:
    ChartSource *chart(const QString &name) const
    {
        for (ChartSource *c : m_window->charts())
            if (c->chartName() == name)
                return c;
        return nullptr;
    }

    QTemporaryDir m_settings;
    QTemporaryDir m_out;
    std::unique_ptr<test::TempDump> m_dump;
    std::unique_ptr<MainWindow> m_window;
};

QTEST_MAIN(ExportTest)
#include "ExportTest.moc"
