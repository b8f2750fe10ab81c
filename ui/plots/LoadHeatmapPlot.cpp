#include "LoadHeatmapPlot.h"

#include "ExpertPalette.h"
#include "Format.h"
#include "PlotStyle.h"
#include "export/Csv.h"

#include <QTextStream>
#include <qcustomplot.h>

#include <algorithm>
#include <cmath>

namespace moescope::ui {

namespace {
QCPItemRect *outline(QCustomPlot *plot, QCPLayer *layer, const QPen &pen)
{
    auto *r = new QCPItemRect(plot);
    r->setLayer(layer);
    r->setPen(pen);
    r->setBrush(Qt::NoBrush);
    r->setClipToAxisRect(true);
    r->setVisible(false);
    r->setSelectable(false);
    return r;
}
} // namespace

LoadHeatmapPlot::LoadHeatmapPlot(QWidget *parent) : PlotWidget(parent)
{
    QCustomPlot *p = plot();
    m_map = new QCPColorMap(p->xAxis, p->yAxis);
    m_map->setInterpolate(false);
    m_map->setTightBoundary(false);
    m_map->setGradient(PlotStyle::loadGradient());
    m_map->setDataRange(QCPRange(-PlotStyle::kRatioRange, PlotStyle::kRatioRange));

    auto *scale = new QCPColorScale(p);
    p->plotLayout()->addElement(0, 1, scale);
    scale->setType(QCPAxis::atRight);
    scale->setBarWidth(10);
    scale->axis()->setTicker(PlotStyle::ratioTicker());
    scale->axis()->setTickLabelFont(PlotStyle::labelFont());
    scale->axis()->setLabelFont(PlotStyle::labelFont());
    scale->axis()->setLabel(tr("expert load / layer mean"));
    m_map->setColorScale(scale);
    scale->setGradient(PlotStyle::loadGradient()); // the map takes its gradient from the scale
    scale->setDataRange(QCPRange(-PlotStyle::kRatioRange, PlotStyle::kRatioRange));
    auto *group = new QCPMarginGroup(p);
    p->axisRect()->setMarginGroup(QCP::msBottom | QCP::msTop, group);
    scale->setMarginGroup(QCP::msBottom | QCP::msTop, group);

    auto marks = [p](QCPScatterStyle::ScatterShape shape, const QColor &pen, const QBrush &brush) {
        auto *g = new QCPGraph(p->xAxis, p->yAxis);
        g->setLineStyle(QCPGraph::lsNone);
        g->setScatterStyle(QCPScatterStyle(shape, QPen(pen, 1.2), brush, 6));
        g->setSelectable(QCP::stNone);
        return g;
    };
    m_hot = marks(QCPScatterStyle::ssTriangle, QColor(0x22, 0x22, 0x22), QColor(0x22, 0x22, 0x22));
    m_cold = marks(QCPScatterStyle::ssCircle, QColor(0xff, 0xff, 0xff), Qt::NoBrush);

    const QPen bandPen(QColor(0x20, 0x20, 0x20, 150), 1, Qt::DashLine);
    m_layerBand = outline(p, overlayLayer(), bandPen);
    m_expertBand = outline(p, overlayLayer(), bandPen);
    m_cell = outline(p, overlayLayer(), QPen(LoadColours::selection(), 2.5));

    // Marks follow the cell size, known only once the layout has run for this size.
    connect(p, &QCustomPlot::afterLayout, this, &LoadHeatmapPlot::updateMarkSizes);
    p->xAxis->setLabel(tr("expert"));
    p->yAxis->setLabel(tr("layer"));
    p->yAxis->setRangeReversed(true); // layer 0 on top, as in the health table
    p->xAxis->grid()->setVisible(false);
    p->yAxis->grid()->setVisible(false);
    p->xAxis2->setVisible(true);
    p->xAxis2->setTickLabels(false);
    p->xAxis2->setTicks(false);
    p->yAxis2->setVisible(true);
    p->yAxis2->setTickLabels(false);
    p->yAxis2->setTicks(false);
    auto *title = new QCPTextElement(p, tr("Expert load by layer   \u25b2 hot (> CF \u00d7 mean)   \u25cb cold (< 0.1 \u00d7 mean)"),
                                     PlotStyle::titleFont());
    p->plotLayout()->insertRow(0);
    p->plotLayout()->addElement(0, 0, title);
    p->plotLayout()->setRowStretchFactor(0, 0.01);
}

QSize LoadHeatmapPlot::defaultExportSize() const
{
    if (!m_snapshot)
        return {1000, 600};
    // Square-ish cells: wide for many experts, tall for many layers, within reason.
    const int E = m_snapshot->numExperts(), L = m_snapshot->numLayers();
    return {std::clamp(160 + E * 14, 700, 2400), std::clamp(140 + L * 22, 320, 1400)};
}

void LoadHeatmapPlot::showChart(const DumpSnapshotPtr &snapshot, const OverviewParameters &parameters)
{
    m_layer = parameters.layer;
    m_expert = parameters.expert;
    if (snapshot != m_snapshot) {
        m_snapshot = snapshot;
        rebuild();
    } else {
        placeSelectionMarks();
    }
}

void LoadHeatmapPlot::rebuild()
{
    m_layerLabelStep = 0;
    QCustomPlot *p = plot();
    m_hot->data()->clear();
    m_cold->data()->clear();
    if (!m_snapshot) {
        m_map->data()->clear();
        replotAll();
        return;
    }
    const DumpReport &report = m_snapshot->analysis.report;
    const int E = m_snapshot->numExperts(), L = m_snapshot->numLayers();
    auto *cells = new QCPColorMapData(E, L, QCPRange(0, std::max(1, E - 1)), QCPRange(0, std::max(1, L - 1)));
    if (E == 1 || L == 1) // a one-cell axis needs a non-empty range; keep cells at integers
        cells->setRange(QCPRange(0, E == 1 ? 1 : E - 1), QCPRange(0, L == 1 ? 1 : L - 1));
    QVector<double> hotX, hotY, coldX, coldY;
    for (int l = 0; l < L; ++l) {
        const LayerReport &lr = report.layers[std::size_t(l)];
        for (int e = 0; e < E; ++e)
            cells->setCell(e, l, PlotStyle::ratioValue(double(lr.counts[std::size_t(e)]), lr.load.meanLoad));
        for (int e : lr.load.hot) {
            hotX.push_back(e);
            hotY.push_back(l);
        }
        for (int e : lr.load.cold) {
            coldX.push_back(e);
            coldY.push_back(l);
        }
    }
    m_map->setData(cells);
    m_hot->setData(hotX, hotY);
    m_cold->setData(coldX, coldY);
    p->xAxis->setRange(-0.5, E - 0.5);
    p->yAxis->setRange(-0.5, L - 0.5);

    fitLayerLabels(height());
    p->xAxis->setTicker(PlotStyle::expertTicker(E));
    updateMarkSizes();
    replotAll(); // first: the marks below then wait for this replot instead of forcing one now
    placeSelectionMarks();
}

void LoadHeatmapPlot::fitLayerLabels(int height)
{
    if (!m_snapshot)
        return;
    // Every layer named when the rows are tall enough, else every n-th.
    const int L = m_snapshot->numLayers();
    const int rowsHeight = std::max(40, height - 110);
    const int lineHeight = QFontMetrics(PlotStyle::labelFont()).height() + 1;
    const int step = std::max(1, (L * lineHeight + rowsHeight - 1) / rowsHeight);
    if (step == m_layerLabelStep)
        return;
    m_layerLabelStep = step;
    QSharedPointer<QCPAxisTickerText> ticks(new QCPAxisTickerText);
    for (int l = 0; l < L; l += step)
        ticks->addTick(l, m_snapshot->layerName(l));
    plot()->yAxis->setTicker(ticks);
}

void LoadHeatmapPlot::resizeEvent(QResizeEvent *event)
{
    PlotWidget::resizeEvent(event);
    fitLayerLabels(height());
}

void LoadHeatmapPlot::renderChart(QPainter &painter, const QSize &size)
{
    fitLayerLabels(size.height());
    PlotWidget::renderChart(painter, size);
    fitLayerLabels(height());
}

void LoadHeatmapPlot::updateMarkSizes()
{
    if (!m_snapshot)
        return;
    const QRect r = plot()->axisRect()->rect();
    const double cell = std::min(double(r.width()) / m_snapshot->numExperts(), double(r.height()) / m_snapshot->numLayers());
    // Marks shrink with the cells and vanish when they would cover them.
    const double size = std::clamp(cell * 0.55, 0.0, 9.0);
    const bool visible = size >= 2.5;
    m_hot->setVisible(visible);
    m_cold->setVisible(visible);
    QCPScatterStyle hot = m_hot->scatterStyle(), cold = m_cold->scatterStyle();
    hot.setSize(size);
    cold.setSize(size);
    m_hot->setScatterStyle(hot);
    m_cold->setScatterStyle(cold);
}

void LoadHeatmapPlot::placeSelectionMarks()
{
    const int layer = m_layer, expert = m_expert;
    if (!m_snapshot)
        return;
    const int E = m_snapshot->numExperts(), L = m_snapshot->numLayers();
    const bool hasLayer = layer >= 0 && layer < L, hasExpert = expert >= 0 && expert < E;
    m_layerBand->setVisible(hasLayer);
    m_expertBand->setVisible(hasExpert);
    m_cell->setVisible(hasLayer && hasExpert);
    m_layerBand->topLeft->setCoords(-0.5, layer - 0.5);
    m_layerBand->bottomRight->setCoords(E - 0.5, layer + 0.5);
    m_expertBand->topLeft->setCoords(expert - 0.5, -0.5);
    m_expertBand->bottomRight->setCoords(expert + 0.5, L - 0.5);
    m_cell->topLeft->setCoords(expert - 0.5, layer - 0.5);
    m_cell->bottomRight->setCoords(expert + 0.5, layer + 0.5);
    replotOverlay();
}

bool LoadHeatmapPlot::cellAt(const QPoint &pos, int &layer, int &expert) const
{
    if (!m_snapshot || !plot()->axisRect()->rect().contains(pos))
        return false;
    expert = int(std::lround(plot()->xAxis->pixelToCoord(pos.x())));
    layer = int(std::lround(plot()->yAxis->pixelToCoord(pos.y())));
    return expert >= 0 && expert < m_snapshot->numExperts() && layer >= 0 && layer < m_snapshot->numLayers();
}

QString LoadHeatmapPlot::toolTipAt(const QPoint &pos) const
{
    int layer = 0, expert = 0;
    if (!cellAt(pos, layer, expert))
        return {};
    const LayerReport &lr = m_snapshot->analysis.report.layers[std::size_t(layer)];
    const std::int64_t c = lr.counts[std::size_t(expert)];
    const bool hot = std::binary_search(lr.load.hot.begin(), lr.load.hot.end(), expert);
    const bool cold = std::binary_search(lr.load.cold.begin(), lr.load.cold.end(), expert);
    return tr("<b>Layer %1, expert %2</b><br>%3 tokens, %4 of the layer's assignments<br>%5 \u00d7 the mean load%6")
        .arg(m_snapshot->layerName(layer).toHtmlEscaped())
        .arg(expert)
        .arg(formatCount(c), formatPercent(lr.load.share[std::size_t(expert)], 2),
             formatNumber(lr.load.meanLoad > 0 ? double(c) / lr.load.meanLoad : NAN, 2),
             hot ? tr("<br><b>hot</b>") : cold ? tr("<br><b>cold</b>") : QString());
}

void LoadHeatmapPlot::clickedAt(const QPoint &pos)
{
    int layer = 0, expert = 0;
    if (cellAt(pos, layer, expert))
        emit cellClicked(layer, expert);
}

void LoadHeatmapPlot::writeCsv(QTextStream &out) const
{
    writeCsvRow(out, {"layer", "layer_name", "expert", "count", "share", "load_over_mean", "state"});
    if (!m_snapshot)
        return;
    const DumpReport &report = m_snapshot->analysis.report;
    for (int l = 0; l < m_snapshot->numLayers(); ++l) {
        const LayerReport &lr = report.layers[std::size_t(l)];
        for (int e = 0; e < m_snapshot->numExperts(); ++e) {
            const std::int64_t c = lr.counts[std::size_t(e)];
            const bool hot = std::binary_search(lr.load.hot.begin(), lr.load.hot.end(), e);
            const bool cold = std::binary_search(lr.load.cold.begin(), lr.load.cold.end(), e);
            writeCsvRow(out, {QString::number(l), QString::fromStdString(lr.name), QString::number(e),
                              QString::number(c), csvNumber(lr.load.share[std::size_t(e)]),
                              csvNumber(lr.load.meanLoad > 0 ? double(c) / lr.load.meanLoad : NAN),
                              hot ? "hot" : cold ? "cold" : ""});
        }
    }
}

} // namespace moescope::ui
