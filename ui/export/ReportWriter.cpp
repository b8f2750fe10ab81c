#include "ReportWriter.h"

#include "Format.h"
#include "SafeOutput.h"
#include "models/LayerHealthModel.h"
#include "plots/LoadHeatmapPlot.h"
#include "plots/PlacementChart.h"
#include "plots/ProfilePlot.h"
#include "plots/SaturationPlot.h"
#include "plots/UtilizationPlot.h"
#include "views/RoutingMapChart.h"

#include <QDateTime>
#include <QFileInfo>
#include <QPageLayout>
#include <QPageSize>
#include <QPainter>
#include <QPdfWriter>
#include <QSaveFile>

#include <algorithm>
#include <numeric>

namespace moescope::ui {

namespace {

int ceilDiv(int a, int b) { return (a + b - 1) / b; }

class ReportPainter {
public:
    ReportPainter(QPdfWriter &pdf, const ReportContent &content, int pages)
        : m_pdf(pdf), m_content(content), m_pages(pages)
    {
    }
    bool begin() { return m_painter.begin(&m_pdf); }
    void end() { m_painter.end(); }
    QPainter &painter() { return m_painter; }

    // The page's drawing area below its heading; starts a new page after the first.
    QRect startPage(const QString &heading)
    {
        if (m_page > 0)
            m_pdf.newPage();
        ++m_page;
        const QRect page(QPoint(0, 0), QSize(m_pdf.width(), m_pdf.height()));
        QFont headingFont = m_painter.font();
        headingFont.setPointSizeF(13);
        headingFont.setBold(true);
        m_painter.setFont(headingFont);
        m_painter.setPen(Qt::black);
        const int headingHeight = QFontMetrics(headingFont).height() + 8;
        m_painter.drawText(QRect(page.left(), page.top(), page.width(), headingHeight), Qt::AlignLeft | Qt::AlignTop,
                           heading);
        QFont footFont = m_painter.font();
        footFont.setPointSizeF(7.5);
        footFont.setBold(false);
        m_painter.setFont(footFont);
        m_painter.setPen(QColor(0x66, 0x66, 0x66));
        const int footHeight = QFontMetrics(footFont).height() + 4;
        m_painter.drawText(QRect(page.left(), page.bottom() - footHeight, page.width(), footHeight),
                           Qt::AlignRight | Qt::AlignBottom,
                           QStringLiteral("MoE Scope report \u00b7 %1 \u00b7 page %2 of %3")
                               .arg(QFileInfo(m_content.snapshot->path).fileName())
                               .arg(m_page)
                               .arg(m_pages));
        m_painter.setFont(QFont());
        m_painter.setPen(Qt::black);
        return QRect(page.left(), page.top() + headingHeight, page.width(),
                     page.height() - headingHeight - footHeight - 6);
    }

    void drawChart(ChartSource &chart, const QRect &area)
    {
        m_painter.save();
        m_painter.translate(area.topLeft());
        m_painter.setClipRect(QRect(QPoint(0, 0), area.size()));
        chart.renderChart(m_painter, area.size());
        m_painter.restore();
    }

private:
    QPdfWriter &m_pdf;
    const ReportContent &m_content;
    QPainter m_painter;
    int m_pages;
    int m_page = 0;
};

void drawSummary(QPainter &p, const DumpSnapshot &s, const QRect &area)
{
    const DumpInfo &info = s.info();
    QStringList lines;
    lines << QObject::tr("File: %1").arg(s.path);
    if (!info.model.empty() || !info.checkpoint.empty())
        lines << QObject::tr("Model: %1   Checkpoint: %2%3")
                     .arg(QString::fromStdString(info.model), QString::fromStdString(info.checkpoint),
                          info.checkpointStep ? QObject::tr(" (step %1)").arg(*info.checkpointStep) : QString());
    lines << QObject::tr("%1 tokens, %2 experts, top-%3, %4 MoE layers, %5 sequences; capacity factor %6")
                 .arg(formatCount(info.numTokens))
                 .arg(info.numExperts)
                 .arg(info.topK)
                 .arg(s.numLayers())
                 .arg(formatCount(s.numSequences()))
                 .arg(formatNumber(s.analysis.report.capacityFactor, 2));
    lines << QObject::tr("Written %1").arg(QLocale().toString(QDateTime::currentDateTime(), QLocale::ShortFormat));
    QFont f;
    f.setPointSizeF(9);
    p.setFont(f);
    p.setPen(QColor(0x33, 0x33, 0x33));
    p.drawText(area, Qt::AlignLeft | Qt::AlignTop, lines.join(u'\n'));
}

void drawHealthRows(QPainter &p, const DumpSnapshot &s, const QRect &area, int firstRow, int rows)
{
    const int columns = LayerHealthModel::ColumnCount;
    const double zMedian = [&] {
        std::vector<double> z;
        for (const LayerReport &l : s.analysis.report.layers)
            if (l.zLoss)
                z.push_back(*l.zLoss);
        if (z.empty())
            return 0.0;
        std::nth_element(z.begin(), z.begin() + std::ptrdiff_t(z.size() / 2), z.end());
        return z[z.size() / 2];
    }();
    QFont f;
    f.setPointSizeF(8.5);
    QFont bold = f;
    bold.setBold(true);
    const int rowHeight = QFontMetrics(f).height() + 8;
    const double firstWidth = area.width() * 0.16;
    const double width = (area.width() - firstWidth) / (columns - 1);
    auto cellRect = [&](int row, int column) {
        const double x = column == 0 ? area.left() : area.left() + firstWidth + (column - 1) * width;
        return QRectF(x, area.top() + row * rowHeight, column == 0 ? firstWidth : width, rowHeight);
    };
    p.setFont(bold);
    p.setPen(Qt::black);
    for (int c = 0; c < columns; ++c)
        p.drawText(cellRect(0, c).adjusted(4, 0, -4, 0), (c == 0 ? Qt::AlignLeft : Qt::AlignRight) | Qt::AlignVCenter,
                   LayerHealthModel::columnTitle(c));
    p.setFont(f);
    for (int r = 0; r < rows; ++r) {
        const int layer = firstRow + r;
        const LayerReport &l = s.analysis.report.layers[std::size_t(layer)];
        for (int c = 0; c < columns; ++c) {
            const QRectF cell = cellRect(r + 1, c);
            const double severity = LayerHealthModel::severity(l, c, s.analysis.report.topK, zMedian);
            if (severity >= 0.2) {
                QColor tint = severity >= 0.75 ? QColor(0xe0, 0x4b, 0x3a) : QColor(0xf0, 0xa2, 0x2e);
                tint.setAlphaF(float(0.18 + 0.32 * severity));
                p.fillRect(cell, tint);
            }
            p.setPen(Qt::black);
            p.drawText(cell.adjusted(4, 0, -4, 0), (c == 0 ? Qt::AlignLeft : Qt::AlignRight) | Qt::AlignVCenter,
                       LayerHealthModel::cellText(s, layer, c));
        }
        p.setPen(QPen(QColor(0xdd, 0xdd, 0xdd), 0.5));
        p.drawLine(cellRect(r + 1, 0).bottomLeft(), cellRect(r + 1, columns - 1).bottomRight());
    }
}

} // namespace

std::vector<ExpertProfile> busiestExpertProfiles(const DumpSnapshot &snapshot, int layer, int count,
                                                 const Progress &progress)
{
    const auto &counts = snapshot.analysis.report.layers.at(std::size_t(layer)).counts;
    std::vector<int> experts(counts.size());
    std::iota(experts.begin(), experts.end(), 0);
    std::stable_sort(experts.begin(), experts.end(),
                     [&counts](int a, int b) { return counts[std::size_t(a)] > counts[std::size_t(b)]; });
    experts.resize(std::min<std::size_t>(experts.size(), std::size_t(std::max(count, 0))));
    std::vector<ExpertProfile> profiles;
    const LayerPassPtr pass = experts.empty() ? nullptr : snapshot.analysis.pass(std::size_t(layer), progress);
    for (std::size_t i = 0; i < experts.size(); ++i) {
        progress.checkCancelled();
        profiles.push_back(expertProfile(pass->choices, snapshot.analysis.tokenIds, experts[i]));
        progress.report(double(i + 1) / double(experts.size()));
    }
    return profiles;
}

int reportPageCount(int layers, int profiles, bool placement, bool checkpoints)
{
    return 1 + ceilDiv(layers, kReportHealthRowsPerPage) + ceilDiv(layers, 2) + 1 + (placement ? 1 : 0) +
           ceilDiv(profiles, 2) + (checkpoints ? 1 : 0);
}

QString writeReport(const ReportContent &content, const QString &path)
{
    if (!content.snapshot)
        return QStringLiteral("%1: no dump to report on").arg(path);
    const DumpSnapshot &s = *content.snapshot;
    QSaveFile file(path); // written whole, then renamed over `path` (SafeOutput.h)
    if (const QString error = openOutput(file); !error.isEmpty())
        return error;
    QPdfWriter pdf(&file);
    pdf.setCreator(QStringLiteral("MoE Scope"));
    pdf.setTitle(QStringLiteral("MoE Scope report: %1").arg(QFileInfo(s.path).fileName()));
    pdf.setResolution(96);
    pdf.setPageLayout(QPageLayout(QPageSize(QPageSize::A4), QPageLayout::Landscape, QMarginsF(12, 12, 12, 10),
                                  QPageLayout::Millimeter));

    const int L = s.numLayers();
    const int profiles = int(content.profiles.size());
    const bool checkpoints = content.checkpoints && !content.checkpoints->layers.empty();
    ReportPainter report(pdf, content, reportPageCount(L, profiles, bool(content.placement), checkpoints));
    if (!report.begin())
        return writeFailure(file, QStringLiteral("cannot start the PDF document"));
    QPainter &p = report.painter();

    // 1. Title page: what was analysed, and the overview heatmap.
    QRect area = report.startPage(QObject::tr("MoE Scope report: %1").arg(QFileInfo(s.path).fileName()));
    const int summaryHeight = 86;
    drawSummary(p, s, QRect(area.topLeft(), QSize(area.width(), summaryHeight)));
    LoadHeatmapPlot heatmap;
    heatmap.showChart(content.snapshot, {});
    report.drawChart(heatmap, area.adjusted(0, summaryHeight, 0, 0));

    // 2. The health table.
    for (int first = 0; first < L; first += kReportHealthRowsPerPage) {
        area = report.startPage(QObject::tr("Layer health (tinted: worse; Health = the worst metric)"));
        drawHealthRows(p, s, area, first, std::min(kReportHealthRowsPerPage, L - first));
    }

    // 3. Every layer's utilization, two a page.
    UtilizationPlot histogram;
    for (int l = 0; l < L; l += 2) {
        area = report.startPage(QObject::tr("Utilization by layer"));
        const int half = (area.height() - 10) / 2;
        for (int i = 0; i < 2 && l + i < L; ++i) {
            histogram.showChart(content.snapshot, {l + i});
            report.drawChart(histogram, QRect(area.left(), area.top() + i * (half + 10), area.width(), half));
        }
    }

    // 4. The routing map of the chosen sequence, whole.
    area = report.startPage(QObject::tr("Routing map"));
    RoutingMapParameters mapParameters;
    mapParameters.sequence = std::clamp<std::int64_t>(content.sequence, 0, std::max<std::int64_t>(0, s.numSequences() - 1));
    mapParameters.selection.layer = content.layer;
    RoutingMapChart map(content.snapshot, mapParameters);
    report.drawChart(map, area);

    // 5. Expert-parallel placement: before and after on R ranks.
    if (content.placement) {
        area = report.startPage(QObject::tr("Expert-parallel placement"));
        PlacementChart placement({content.placement, content.layer, -1});
        report.drawChart(placement, area);
    }

    // 6. The busiest experts' profiles, two a page.
    ProfilePlot profile;
    for (int i = 0; i < profiles; i += 2) {
        area = report.startPage(QObject::tr("Busiest experts of layer %1: what they receive").arg(s.layerName(content.layer)));
        const int half = (area.height() - 10) / 2;
        for (int j = 0; j < 2 && i + j < profiles; ++j) {
            profile.showChart(content.snapshot, {content.layer, content.profiles[std::size_t(i + j)]});
            report.drawChart(profile, QRect(area.left(), area.top() + j * (half + 10), area.width(), half));
        }
    }
    // 6. Checkpoints of the run compared: router saturation by layer and checkpoint.
    if (checkpoints) {
        area = report.startPage(QObject::tr("Checkpoints of the run: router saturation against %1")
                                    .arg(checkpointLabel(*content.checkpoints, content.checkpoints->reference)));
        SaturationPlot saturation;
        saturation.showChart(content.checkpoints, {});
        report.drawChart(saturation, area);
    }
    report.end();
    return commitOutput(file);
}

} // namespace moescope::ui
