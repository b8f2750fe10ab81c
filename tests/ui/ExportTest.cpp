// Exports: every chart to PNG, SVG, PDF and CSV, each file loading back; the report
// PDF with the expected page count; and no half-written file on failure.
#include "MainWindow.h"
#include "SelectionModel.h"
#include "UiFixture.h"
#include "export/ChartExport.h"
#include "export/ChartSource.h"
#include "export/ReportWriter.h"

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
        } else if (suffix == u"pdf") {
            QCOMPARE(pdfPageCount(path), 1);
        } else {
            QFile f(path);
            QVERIFY(f.open(QIODevice::ReadOnly));
            const QList<QByteArray> lines = f.readAll().split('\n');
            QVERIFY(lines.size() > 2);
            const int columns = int(lines[0].count(',')) + 1;
            QVERIFY(columns >= 3);
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
