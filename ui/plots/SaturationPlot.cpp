#include "SaturationPlot.h"

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
    r->setClipToAxisRect(false);
    r->setVisible(false);
    r->setSelectable(false);
    return r;
}

// Pale for "little agrees yet", deep blue for "settled".
QCPColorGradient saturationGradient()
{
    QCPColorGradient g;
    g.setColorStopAt(0.0, QColor(0xf7, 0xfb, 0xff));
    g.setColorStopAt(0.5, QColor(0x6b, 0xae, 0xd6));
    g.setColorStopAt(1.0, QColor(0x08, 0x30, 0x6b));
    g.setNanHandling(QCPColorGradient::nhTransparent);
    return g;
}
} // namespace

SaturationPlot::SaturationPlot(QWidget *parent) : PlotWidget(parent)
{
    QCustomPlot *p = plot();
    m_map = new QCPColorMap(p->xAxis, p->yAxis);
    m_map->setInterpolate(false);
    m_map->setTightBoundary(false);
    auto *scale = new QCPColorScale(p);
    p->plotLayout()->addElement(0, 1, scale);
    scale->setType(QCPAxis::atRight);
    scale->setBarWidth(10);
    scale->axis()->setTickLabelFont(PlotStyle::labelFont());
    scale->axis()->setLabelFont(PlotStyle::labelFont());
    scale->axis()->setLabel(tr("saturation (agreement with the reference)"));
    m_map->setColorScale(scale);
    scale->setGradient(saturationGradient());
    scale->setDataRange(QCPRange(0, 1));
    auto *group = new QCPMarginGroup(p);
    p->axisRect()->setMarginGroup(QCP::msBottom | QCP::msTop, group);
    scale->setMarginGroup(QCP::msBottom | QCP::msTop, group);
    m_row = outline(p, overlayLayer(), QPen(QColor(0x20, 0x20, 0x20, 150), 1, Qt::DashLine));
    m_column = outline(p, overlayLayer(), QPen(LoadColours::selection(), 2.5));
    p->xAxis->setLabel(tr("checkpoint"));
    p->yAxis->setLabel(tr("layer"));
    p->yAxis->setRangeReversed(true);
    p->xAxis->grid()->setVisible(false);
    p->yAxis->grid()->setVisible(false);
    auto *title = new QCPTextElement(p, tr("Router saturation by layer and checkpoint"), PlotStyle::titleFont());
    p->plotLayout()->insertRow(0);
    p->plotLayout()->addElement(0, 0, title);
    p->plotLayout()->setRowStretchFactor(0, 0.01);
    setPlaceholder(tr("Compare checkpoints of one run: File > Compare checkpoints..., or drop several dumps."));
}

QSize SaturationPlot::defaultExportSize() const
{
    if (!m_comparison)
        return {800, 500};
    const int n = int(m_comparison->files.size()), L = int(m_comparison->layers.size());
    return {std::clamp(220 + n * 90, 600, 2000), std::clamp(150 + L * 26, 320, 1400)};
}

void SaturationPlot::showChart(const CheckpointComparisonPtr &comparison, const SaturationParameters &parameters)
{
    m_parameters = parameters;
    if (comparison != m_comparison) {
        m_comparison = comparison;
        rebuild();
    } else {
        placeMarks();
    }
}

void SaturationPlot::rebuild()
{
    QCustomPlot *p = plot();
    if (!hasChartData()) {
        m_map->data()->clear();
        setPlaceholder(m_comparison ? tr("The dumps share no layer.")
                                    : tr("Compare checkpoints of one run: File > Compare checkpoints..., or drop several dumps."));
        replotAll();
        return;
    }
    setPlaceholder({});
    const CheckpointComparison &c = *m_comparison;
    const int n = int(c.files.size()), L = int(c.layers.size());
    auto *cells = new QCPColorMapData(n, L, QCPRange(0, std::max(1, n - 1)), QCPRange(0, std::max(1, L - 1)));
    if (L == 1)
        cells->setRange(QCPRange(0, n - 1), QCPRange(0, 1));
    QSharedPointer<QCPAxisTickerText> columns(new QCPAxisTickerText);
    for (int col = 0; col < n; ++col) {
        const std::size_t i = c.order[std::size_t(col)];
        columns->addTick(col, checkpointLabel(c, i) + (i == c.reference ? tr("\n(reference)") : QString()));
        for (int l = 0; l < L; ++l)
            cells->setCell(col, l, c.layers[std::size_t(l)].figures.checkpoints[i].saturation);
    }
    QSharedPointer<QCPAxisTickerText> rows(new QCPAxisTickerText);
    for (int l = 0; l < L; ++l)
        rows->addTick(l, QString::fromStdString(c.layers[std::size_t(l)].name));
    m_map->setData(cells);
    p->xAxis->setTicker(columns);
    p->yAxis->setTicker(rows);
    p->xAxis->setRange(-0.5, n - 0.5);
    p->yAxis->setRange(-0.5, L - 0.5);
    placeMarks();
    replotAll();
}

void SaturationPlot::placeMarks()
{
    if (!hasChartData())
        return;
    const CheckpointComparison &c = *m_comparison;
    const int n = int(c.files.size()), L = int(c.layers.size());
    const int layer = m_parameters.layer, checkpoint = m_parameters.checkpoint;
    const bool hasLayer = layer >= 0 && layer < L, hasColumn = checkpoint >= 0 && checkpoint < n;
    m_row->setVisible(hasLayer);
    m_row->topLeft->setCoords(-0.5, layer - 0.5);
    m_row->bottomRight->setCoords(n - 0.5, layer + 0.5);
    int col = 0;
    if (hasColumn)
        col = int(std::find(c.order.begin(), c.order.end(), std::size_t(checkpoint)) - c.order.begin());
    m_column->setVisible(hasColumn);
    m_column->topLeft->setCoords(col - 0.5, -0.5);
    m_column->bottomRight->setCoords(col + 0.5, L - 0.5);
    replotOverlay();
}

bool SaturationPlot::cellAt(const QPoint &pos, int &layer, int &checkpoint) const
{
    if (!hasChartData() || !plot()->axisRect()->rect().contains(pos))
        return false;
    const int col = int(std::lround(plot()->xAxis->pixelToCoord(pos.x())));
    layer = int(std::lround(plot()->yAxis->pixelToCoord(pos.y())));
    const int n = int(m_comparison->files.size());
    if (col < 0 || col >= n || layer < 0 || layer >= int(m_comparison->layers.size()))
        return false;
    checkpoint = int(m_comparison->order[std::size_t(col)]);
    return true;
}

QString SaturationPlot::toolTipAt(const QPoint &pos) const
{
    int layer = 0, checkpoint = 0;
    if (!cellAt(pos, layer, checkpoint))
        return {};
    const CheckpointLayer &cl = m_comparison->layers[std::size_t(layer)];
    const CheckpointFigures &f = cl.figures.checkpoints[std::size_t(checkpoint)];
    QString text = tr("<b>Layer %1, %2</b><br>saturation %3 (top-1: %4)<br>load drift %5<br>mean expert Jaccard %6")
                       .arg(QString::fromStdString(cl.name).toHtmlEscaped(),
                            checkpointLabel(*m_comparison, std::size_t(checkpoint)).toHtmlEscaped(),
                            formatPercent(f.saturation), formatPercent(f.saturationTop1), formatNumber(f.loadDrift),
                            formatNumber(f.meanJaccard));
    if (!cl.figures.lastFluctuation.empty())
        text += tr("<br>last fluctuation at or after it: %1 of tokens")
                    .arg(formatPercent(cl.figures.lastFluctuation[std::size_t(checkpoint)]));
    return text;
}

void SaturationPlot::clickedAt(const QPoint &pos)
{
    int layer = 0, checkpoint = 0;
    if (cellAt(pos, layer, checkpoint))
        emit cellClicked(layer, checkpoint);
}

void SaturationPlot::writeCsv(QTextStream &out) const
{
    writeCsvRow(out, {"layer", "file", "step", "reference", "saturation", "saturation_top1", "load_drift",
                      "mean_jaccard", "last_fluctuation"});
    if (!m_comparison)
        return;
    const CheckpointComparison &c = *m_comparison;
    for (const CheckpointLayer &layer : c.layers)
        for (std::size_t i : c.order) {
            const CheckpointFigures &f = layer.figures.checkpoints[i];
            writeCsvRow(out, {QString::fromStdString(layer.name), QString::fromStdString(c.files[i]),
                              c.steps[i] ? QString::number(*c.steps[i]) : QString(), i == c.reference ? "1" : "0",
                              csvNumber(f.saturation), csvNumber(f.saturationTop1), csvNumber(f.loadDrift),
                              csvNumber(f.meanJaccard),
                              layer.figures.lastFluctuation.empty() ? QString()
                                                                    : csvNumber(layer.figures.lastFluctuation[i])});
        }
}

} // namespace moescope::ui
