#include "UtilizationPlot.h"

#include "ExpertPalette.h"
#include "Format.h"
#include "PlotStyle.h"
#include "export/Csv.h"

#include <QTextStream>
#include <qcustomplot.h>

#include <algorithm>
#include <cmath>
#include <numeric>

namespace moescope::ui {

namespace {
QCPBars *makeBars(QCustomPlot *p, const QColor &colour)
{
    auto *bars = new QCPBars(p->xAxis, p->yAxis);
    bars->setBrush(colour);
    bars->setPen(Qt::NoPen);
    bars->setWidth(0.8);
    bars->setSelectable(QCP::stNone);
    bars->setAntialiased(false); // crisp bar edges, even at 256 bars
    return bars;
}

QCPItemStraightLine *horizontalLine(QCustomPlot *p, const QPen &pen)
{
    auto *line = new QCPItemStraightLine(p);
    line->setPen(pen);
    line->setSelectable(false);
    return line;
}

QCPItemText *lineLabel(QCustomPlot *p, const QColor &colour)
{
    auto *text = new QCPItemText(p);
    text->setPositionAlignment(Qt::AlignRight | Qt::AlignBottom);
    text->position->setTypeX(QCPItemPosition::ptAxisRectRatio);
    text->position->setTypeY(QCPItemPosition::ptPlotCoords);
    text->setColor(colour);
    text->setFont(PlotStyle::labelFont());
    text->setPadding(QMargins(3, 0, 4, 1));
    text->setBrush(QColor(255, 255, 255, 215)); // readable over the bars
    text->setSelectable(false);
    return text;
}
} // namespace

UtilizationPlot::UtilizationPlot(QWidget *parent) : PlotWidget(parent)
{
    QCustomPlot *p = plot();
    m_normal = makeBars(p, LoadColours::normal());
    m_hot = makeBars(p, LoadColours::hot());
    m_cold = makeBars(p, LoadColours::cold());
    m_meanLine = horizontalLine(p, QPen(QColor(0x33, 0x33, 0x33), 1.2, Qt::DashLine));
    m_capacityLine = horizontalLine(p, QPen(LoadColours::hot().darker(120), 1.2, Qt::DashDotLine));
    m_meanLabel = lineLabel(p, QColor(0x33, 0x33, 0x33));
    m_capacityLabel = lineLabel(p, LoadColours::hot().darker(120));
    m_selected = new QCPItemRect(p);
    m_selected->setLayer(overlayLayer());
    m_selected->setPen(QPen(LoadColours::selection(), 2));
    m_selected->setBrush(QColor(0, 0, 0, 24));
    m_selected->setSelectable(false);
    m_selected->setVisible(false);
    m_selectedLabel = new QCPItemText(p);
    m_selectedLabel->setLayer(overlayLayer());
    m_selectedLabel->setPositionAlignment(Qt::AlignHCenter | Qt::AlignBottom);
    m_selectedLabel->setFont(PlotStyle::labelFont());
    m_selectedLabel->setColor(LoadColours::selection());
    m_selectedLabel->setSelectable(false);
    m_selectedLabel->setVisible(false);

    p->xAxis->setLabel(tr("expert"));
    p->yAxis->setLabel(tr("tokens routed"));
    p->xAxis->grid()->setVisible(false);
    p->plotLayout()->insertRow(0);
    m_title = new QCPTextElement(p, QString(), PlotStyle::titleFont());
    p->plotLayout()->addElement(0, 0, m_title);
    // The legend gets its own row under the title: inside the axis rect it would
    // cover bars, and with 64 or more experts there is no free corner.
    p->legend->setVisible(true);
    p->legend->setFont(PlotStyle::labelFont());
    p->legend->setBorderPen(Qt::NoPen);
    p->legend->setBrush(Qt::NoBrush);
    p->legend->setFillOrder(QCPLayoutGrid::foColumnsFirst);
    p->legend->setMargins(QMargins(0, 0, 0, 0));
    p->axisRect()->insetLayout()->take(p->legend);
    p->plotLayout()->insertRow(1);
    p->plotLayout()->addElement(1, 0, p->legend);
    p->plotLayout()->setRowStretchFactor(1, 0.001);
    p->plotLayout()->setRowStretchFactor(0, 0.001);
    m_normal->setName(tr("expert"));
    m_hot->setName(tr("hot (> CF \u00d7 mean)"));
    m_cold->setName(tr("cold (< 0.1 \u00d7 mean)"));
    setPlaceholder(tr("Open a dump to see each expert's load."));
}

void UtilizationPlot::showChart(const DumpSnapshotPtr &snapshot, const UtilizationParameters &parameters)
{
    const bool barsChange =
        snapshot != m_snapshot || parameters.layer != m_layer || parameters.sortedByLoad != m_sorted;
    m_snapshot = snapshot;
    m_layer = snapshot ? parameters.layer : -1;
    m_sorted = parameters.sortedByLoad;
    m_expert = parameters.expert;
    if (barsChange)
        rebuild();
    else
        placeSelectedMark();
}

double UtilizationPlot::keyOf(int expert) const
{
    return expert >= 0 && std::size_t(expert) < m_rank.size() ? m_rank[std::size_t(expert)] : expert;
}

void UtilizationPlot::rebuild()
{
    QCustomPlot *p = plot();
    for (QCPBars *b : {m_normal, m_hot, m_cold})
        b->data()->clear();
    if (!hasChartData() || m_layer >= m_snapshot->numLayers()) {
        m_title->setText(QString());
        setPlaceholder(tr("Open a dump to see each expert's load."));
        replotAll();
        return;
    }
    setPlaceholder(QString());
    const LayerReport &lr = m_snapshot->analysis.report.layers[std::size_t(m_layer)];
    const int E = m_snapshot->numExperts();
    const double cf = m_snapshot->analysis.report.capacityFactor;
    m_order.resize(std::size_t(E));
    std::iota(m_order.begin(), m_order.end(), 0);
    if (m_sorted)
        std::stable_sort(m_order.begin(), m_order.end(), [&lr](int a, int b) {
            return lr.counts[std::size_t(a)] > lr.counts[std::size_t(b)];
        });
    m_rank.assign(std::size_t(E), 0);
    for (int x = 0; x < E; ++x)
        m_rank[std::size_t(m_order[std::size_t(x)])] = x;

    QVector<double> keys[3], values[3];
    std::int64_t maxCount = 0;
    for (int e = 0; e < E; ++e) {
        const std::int64_t c = lr.counts[std::size_t(e)];
        maxCount = std::max(maxCount, c);
        const bool hot = std::binary_search(lr.load.hot.begin(), lr.load.hot.end(), e);
        const bool cold = std::binary_search(lr.load.cold.begin(), lr.load.cold.end(), e);
        const int kind = hot ? 1 : cold ? 2 : 0;
        keys[kind].push_back(keyOf(e));
        values[kind].push_back(double(c));
    }
    m_normal->setData(keys[0], values[0]);
    m_hot->setData(keys[1], values[1]);
    m_cold->setData(keys[2], values[2]);
    // A thin outline separates neighbouring bars while they are wide enough.
    const QPen edge = E <= 96 ? QPen(QColor(255, 255, 255), 0.5) : QPen(Qt::NoPen);
    for (QCPBars *b : {m_normal, m_hot, m_cold})
        b->setPen(edge);
    m_hot->removeFromLegend();
    m_cold->removeFromLegend();
    m_normal->removeFromLegend();
    if (!keys[1].isEmpty())
        m_hot->addToLegend();
    if (!keys[2].isEmpty())
        m_cold->addToLegend();

    const double mean = lr.load.meanLoad, capacity = cf * mean;
    m_meanLine->point1->setCoords(0, mean);
    m_meanLine->point2->setCoords(1, mean);
    m_capacityLine->point1->setCoords(0, capacity);
    m_capacityLine->point2->setCoords(1, capacity);
    m_meanLabel->position->setCoords(1.0, mean);
    m_meanLabel->setText(tr("balanced mean %1").arg(formatCount(std::int64_t(std::llround(mean)))));
    m_capacityLabel->position->setCoords(1.0, capacity);
    m_capacityLabel->setText(tr("capacity %1 \u00d7 mean").arg(formatNumber(cf, 2)));

    p->xAxis->setRange(-0.7, E - 0.3);
    p->yAxis->setRange(0, std::max(double(maxCount), capacity) * 1.08 + 1);
    if (m_sorted) {
        QSharedPointer<QCPAxisTickerText> ticks(new QCPAxisTickerText);
        const int step = PlotStyle::expertTickStep(E);
        for (int x = 0; x < E; x += step)
            ticks->addTick(x, QString::number(m_order[std::size_t(x)]));
        p->xAxis->setTicker(ticks);
        p->xAxis->setLabel(tr("expert (ordered by load)"));
    } else {
        p->xAxis->setTicker(PlotStyle::expertTicker(E));
        p->xAxis->setLabel(tr("expert"));
    }
    m_title->setText(tr("Layer %1: tokens per expert (k \u00b7 T = %2, CV %3, %4 hot, %5 cold)")
                         .arg(m_snapshot->layerName(m_layer), formatCount(std::int64_t(lr.tokens) * m_snapshot->analysis.report.topK),
                              formatNumber(lr.load.cv, 2))
                         .arg(lr.load.hot.size())
                         .arg(lr.load.cold.size()));
    replotAll(); // first: the marks below then wait for this replot instead of forcing one now
    placeSelectedMark();
}

void UtilizationPlot::placeSelectedMark()
{
    const int expert = m_expert;
    if (!hasChartData() || m_layer >= m_snapshot->numLayers() || expert < 0 || expert >= m_snapshot->numExperts()) {
        m_selected->setVisible(false);
        m_selectedLabel->setVisible(false);
        replotOverlay();
        return;
    }
    const LayerReport &lr = m_snapshot->analysis.report.layers[std::size_t(m_layer)];
    const double x = keyOf(expert);
    const double top = plot()->yAxis->range().upper;
    m_selected->topLeft->setCoords(x - 0.5, std::max(double(lr.counts[std::size_t(expert)]), top * 0.02) + top * 0.02);
    m_selected->bottomRight->setCoords(x + 0.5, 0);
    m_selected->setVisible(true);
    m_selectedLabel->position->setCoords(x, std::max(double(lr.counts[std::size_t(expert)]), top * 0.02) + top * 0.025);
    m_selectedLabel->setText(QString::number(expert));
    m_selectedLabel->setVisible(true);
    replotOverlay();
}

int UtilizationPlot::expertAt(const QPoint &pos) const
{
    if (!hasChartData() || !plot()->axisRect()->rect().contains(pos))
        return -1;
    const int x = int(std::lround(plot()->xAxis->pixelToCoord(pos.x())));
    if (x < 0 || x >= m_snapshot->numExperts() || std::size_t(x) >= m_order.size())
        return -1;
    return m_order[std::size_t(x)];
}

QString UtilizationPlot::toolTipAt(const QPoint &pos) const
{
    const int e = expertAt(pos);
    if (e < 0)
        return {};
    const LayerReport &lr = m_snapshot->analysis.report.layers[std::size_t(m_layer)];
    const std::int64_t c = lr.counts[std::size_t(e)];
    const bool hot = std::binary_search(lr.load.hot.begin(), lr.load.hot.end(), e);
    const bool cold = std::binary_search(lr.load.cold.begin(), lr.load.cold.end(), e);
    QString text = tr("<b>Expert %1</b><br>%2 tokens (exact)<br>%3 of assignments, %4 \u00d7 mean")
                       .arg(e)
                       .arg(formatCount(c), formatPercent(lr.load.share[std::size_t(e)], 2),
                            formatNumber(lr.load.meanLoad > 0 ? double(c) / lr.load.meanLoad : NAN, 2));
    if (!lr.drops.droppedPerExpert.empty() && lr.drops.droppedPerExpert[std::size_t(e)] > 0)
        text += tr("<br>%1 over capacity").arg(formatCount(lr.drops.droppedPerExpert[std::size_t(e)]));
    if (hot)
        text += tr("<br><b>hot</b>");
    if (cold)
        text += tr("<br><b>cold</b>");
    return text;
}

void UtilizationPlot::clickedAt(const QPoint &pos)
{
    const int e = expertAt(pos);
    if (e >= 0)
        emit expertClicked(e);
}

void UtilizationPlot::writeCsv(QTextStream &out) const
{
    writeCsvRow(out, {"layer", "expert", "count", "share", "mean", "capacity", "state"});
    if (!hasChartData())
        return;
    const LayerReport &lr = m_snapshot->analysis.report.layers[std::size_t(m_layer)];
    const double mean = lr.load.meanLoad, capacity = m_snapshot->analysis.report.capacityFactor * mean;
    for (int e = 0; e < m_snapshot->numExperts(); ++e) {
        const bool hot = std::binary_search(lr.load.hot.begin(), lr.load.hot.end(), e);
        const bool cold = std::binary_search(lr.load.cold.begin(), lr.load.cold.end(), e);
        writeCsvRow(out, {QString::fromStdString(lr.name), QString::number(e),
                          QString::number(lr.counts[std::size_t(e)]), csvNumber(lr.load.share[std::size_t(e)]),
                          csvNumber(mean), csvNumber(capacity), hot ? "hot" : cold ? "cold" : ""});
    }
}

} // namespace moescope::ui
