#include "ChartExport.h"

#include "ChartSource.h"
#include "SafeOutput.h"

#include <QBuffer>
#include <QFileInfo>
#include <QRegularExpression>
#include <QImage>
#include <QImageWriter>
#include <QPageLayout>
#include <QPageSize>
#include <QPainter>
#include <QPdfWriter>
#include <QSaveFile>
#include <QSvgGenerator>
#include <QTextStream>

#include <cmath>

namespace moescope::ui {

namespace {
QString failure(const QString &path, const QString &problem) { return QStringLiteral("%1: %2").arg(path, problem); }
} // namespace

std::optional<ExportFormat> exportFormatForPath(const QString &path)
{
    const QString suffix = QFileInfo(path).suffix().toLower();
    if (suffix == u"png")
        return ExportFormat::Png;
    if (suffix == u"svg")
        return ExportFormat::Svg;
    if (suffix == u"pdf")
        return ExportFormat::Pdf;
    if (suffix == u"csv")
        return ExportFormat::Csv;
    return std::nullopt;
}

QString exportFormatName(ExportFormat format)
{
    switch (format) {
    case ExportFormat::Png: return QStringLiteral("PNG");
    case ExportFormat::Svg: return QStringLiteral("SVG");
    case ExportFormat::Pdf: return QStringLiteral("PDF");
    case ExportFormat::Csv: return QStringLiteral("CSV");
    }
    return {};
}

QString exportChart(ChartSource &chart, const QString &path, const ExportOptions &options)
{
    const auto format = exportFormatForPath(path);
    if (!format)
        return failure(path, QStringLiteral("unknown file type (use .png, .svg, .pdf or .csv)"));
    const QSize size = options.size.isValid() && !options.size.isEmpty() ? options.size : chart.defaultExportSize();
    if (size.width() < 16 || size.height() < 16 || size.width() > 20000 || size.height() > 20000)
        return failure(path, QStringLiteral("size %1 x %2 is out of range").arg(size.width()).arg(size.height()));
    const int dpi = std::clamp(options.dpi, 24, 1200);

    QSaveFile file(path); // written whole, then renamed over `path` (SafeOutput.h)
    if (const QString error = openOutput(file); !error.isEmpty())
        return error;

    switch (*format) {
    case ExportFormat::Png: {
        const double scale = dpi / 96.0;
        const QSize pixels(int(std::lround(size.width() * scale)), int(std::lround(size.height() * scale)));
        if (qint64(pixels.width()) * pixels.height() > 400'000'000LL)
            return failure(path, QStringLiteral("image of %1 x %2 pixels is too large").arg(pixels.width()).arg(pixels.height()));
        QImage image(pixels, QImage::Format_ARGB32_Premultiplied);
        if (image.isNull())
            return failure(path, QStringLiteral("not enough memory for the image"));
        image.fill(Qt::white);
        const int dotsPerMeter = int(std::lround(dpi / 0.0254));
        image.setDotsPerMeterX(dotsPerMeter);
        image.setDotsPerMeterY(dotsPerMeter);
        {
            QPainter painter(&image);
            painter.setRenderHint(QPainter::Antialiasing);
            painter.setRenderHint(QPainter::TextAntialiasing);
            painter.scale(scale, scale);
            chart.renderChart(painter, size);
        }
        QImageWriter writer(&file, "png");
        if (!writer.write(image))
            return writeFailure(file, writer.errorString());
        break;
    }
    case ExportFormat::Svg: {
        QBuffer buffer;
        buffer.open(QIODevice::WriteOnly);
        QSvgGenerator svg;
        svg.setOutputDevice(&buffer);
        svg.setSize(size);
        svg.setViewBox(QRect(QPoint(0, 0), size));
        svg.setResolution(96);
        svg.setTitle(QStringLiteral("MoE Scope: %1").arg(chart.chartName()));
        QPainter painter;
        if (!painter.begin(&svg))
            return failure(path, QStringLiteral("cannot start the SVG document"));
        chart.renderChart(painter, size);
        painter.end();
        // QSvgGenerator states the size in millimetres at its resolution; pixels make
        // browsers and QSvgRenderer agree on the size that was asked for.
        QByteArray document = buffer.data();
        static const QRegularExpression sizeAttributes(QStringLiteral("<svg width=\"[^\"]*\" height=\"[^\"]*\""));
        const QString head = QString::fromUtf8(document.left(512));
        const auto match = sizeAttributes.match(head);
        if (match.hasMatch())
            document.replace(match.captured(0).toUtf8(), QStringLiteral("<svg width=\"%1\" height=\"%2\"")
                                                             .arg(size.width())
                                                             .arg(size.height())
                                                             .toUtf8());
        if (file.write(document) != document.size())
            return writeFailure(file, QStringLiteral("write error"));
        break;
    }
    case ExportFormat::Pdf: {
        QPdfWriter pdf(&file);
        pdf.setCreator(QStringLiteral("MoE Scope"));
        pdf.setTitle(QStringLiteral("MoE Scope: %1").arg(chart.chartName()));
        // One page exactly the chart's size; 96 dpi so a logical pixel is 1/96 inch.
        pdf.setResolution(96);
        pdf.setPageLayout(QPageLayout(QPageSize(QSizeF(size.width() * 0.75, size.height() * 0.75), QPageSize::Point),
                                      QPageLayout::Portrait, QMarginsF(0, 0, 0, 0)));
        QPainter painter;
        if (!painter.begin(&pdf))
            return writeFailure(file, QStringLiteral("cannot start the PDF document"));
        chart.renderChart(painter, size);
        painter.end();
        break;
    }
    case ExportFormat::Csv: {
        QTextStream out(&file);
        out.setEncoding(QStringConverter::Utf8);
        chart.writeCsv(out);
        out.flush();
        if (out.status() != QTextStream::Ok)
            return writeFailure(file, QStringLiteral("write error"));
        break;
    }
    }
    return commitOutput(file);
}

} // namespace moescope::ui
