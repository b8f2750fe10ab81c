#include "TrainingPlot.h"

#include "ExpertPalette.h"
#include "Format.h"
#include "PlotStyle.h"
#include "export/Csv.h"

#include <QTextStream>
#include <qcustomplot.h>

#include <cmath>

namespace moescope::ui {

namespace {
// Layers coloured along one dark-to-light hue ramp: order reads as depth.
QColor layerColour(int layer, int layers)
{
    const double t = layers > 1 ? double(layer) / (layers - 1) : 0.0;
    return oklchColour(0.35 + 0.45 * t, 0.12, 260.0 - 200.0 * t);
}
} // namespace

TrainingPlot::TrainingPlot(QWidget *parent) : PlotWidget(parent)
{
    QCustomPlot *p = plot();
    p->plotLayout()->clear();
    m_title = new QCPTextElement(p, tr("Router health over training"), PlotStyle::titleFont());
    m_lbRect = new QCPAxisRect(p);
    m_zRect = new QCPAxisRect(p);
    m_loadRect = new QCPAxisRect(p);
    p->plotLayout()->addElement(0, 0, m_title);
    p->plotLayout()->addElement(1, 0, m_lbRect);
    p->plotLayout()->addElement(2, 0, m_zRect);
    p->plotLayout()->addElement(3, 0, m_loadRect);
    p->plotLayout()->setRowStretchFactors({0.01, 1.0, 1.0, 1.2});
    auto *group = new QCPMarginGroup(p);
    for (QCPAxisRect *r : {m_lbRect, m_zRect, m_loadRect}) {
        PlotStyle::styleAxisRect(r);
        r->setMarginGroup(QCP::msLeft | QCP::msRight, group);
        r->setRangeDrag(Qt::Horizontal);
    }
    m_lbRect->axis(QCPAxis::atLeft)->setLabel(tr("load-balancing loss"));
    m_zRect->axis(QCPAxis::atLeft)->setLabel(tr("router z-loss"));
    m_loadRect->axis(QCPAxis::atLeft)->setLabel(tr("expert"));
    m_loadRect->axis(QCPAxis::atBottom)->setLabel(tr("training step"));
    m_loadRect->axis(QCPAxis::atLeft)->setRangeReversed(true);
    m_loadRect->axis(QCPAxis::atLeft)->grid()->setVisible(false);
    m_loadRect->axis(QCPAxis::atBottom)->grid()->setVisible(false);

    m_load = new QCPColorMap(m_loadRect->axis(QCPAxis::atBottom), m_loadRect->axis(QCPAxis::atLeft));
    m_load->setInterpolate(false);
    m_load->setGradient(PlotStyle::loadGradient());
    m_load->setDataRange(QCPRange(-PlotStyle::kRatioRange, PlotStyle::kRatioRange));
    auto *scale = new QCPColorScale(p);
    p->plotLayout()->addElement(3, 1, scale);
    scale->setBarWidth(10);
    scale->axis()->setTicker(PlotStyle::ratioTicker());
    scale->axis()->setTickLabelFont(PlotStyle::labelFont());
    m_load->setColorScale(scale);
    scale->setGradient(PlotStyle::loadGradient());
    scale->setDataRange(QCPRange(-PlotStyle::kRatioRange, PlotStyle::kRatioRange));
    auto *vertical = new QCPMarginGroup(p);
    scale->setMarginGroup(QCP::msTop | QCP::msBottom, vertical);
    m_loadRect->setMarginGroup(QCP::msTop | QCP::msBottom, vertical);
}

const TrainingSeries *TrainingPlot::series() const
{
    return m_snapshot && m_snapshot->analysis.training ? &*m_snapshot->analysis.training : nullptr;
}

bool TrainingPlot::hasChartData() const { return series() && series()->numRecords() > 0; }

QString TrainingPlot::layerName(int layer) const
{
    const TrainingSeries *s = series();
    if (s && int(s->numLayers) == m_snapshot->numLayers())
        return m_snapshot->layerName(layer);
    return QString::number(layer);
}

void TrainingPlot::showChart(const DumpSnapshotPtr &snapshot, const TrainingParameters &parameters)
{
    if (snapshot != m_snapshot) {
        // A followed run that grew arrives as a new snapshot of the same file: a view
        // the user zoomed or dragged into stays where it is; one showing the whole
        // run keeps showing all of it.
        const bool grew = snapshot && m_snapshot && snapshot->path == m_snapshot->path && hasChartData();
        const QCPRange shown = m_loadRect->axis(QCPAxis::atBottom)->range();
        const QCPRange whole(m_wholeLower, m_wholeUpper);
        m_snapshot = snapshot;
        rebuild();
        const double slack = (whole.upper - whole.lower) * 1e-6;
        if (grew && (shown.lower > whole.lower + slack || shown.upper < whole.upper - slack)) {
            for (QCPAxisRect *r : {m_lbRect, m_zRect, m_loadRect})
                r->axis(QCPAxis::atBottom)->setRange(shown);
            replotAll();
        }
    }
    m_expert = parameters.expert;
    if (parameters.layer == m_layer)
        return;
    m_layer = parameters.layer;
    restyleCurves();
    rebuildHeatmap();
    replotAll();
}

std::pair<double, double> TrainingPlot::stepRange() const
{
    const QCPRange r = m_loadRect->axis(QCPAxis::atBottom)->range();
    return {r.lower, r.upper};
}

void TrainingPlot::setStepRange(double lower, double upper)
{
    for (QCPAxisRect *r : {m_lbRect, m_zRect, m_loadRect})
        r->axis(QCPAxis::atBottom)->setRange(lower, upper);
    replotAll();
}

void TrainingPlot::rebuild()
{
    QCustomPlot *p = plot();
    p->clearGraphs();
    const TrainingSeries *s = series();
    if (!s || s->numRecords() == 0) {
        m_load->data()->clear();
        m_title->setText(tr("This dump has no /training group"));
        replotAll();
        return;
    }
    const std::size_t N = s->numRecords(), L = s->numLayers;
    QVector<double> steps(static_cast<qsizetype>(N));
    for (std::size_t i = 0; i < N; ++i)
        steps[qsizetype(i)] = double(s->steps[i]);
    auto addCurves = [&](QCPAxisRect *rect, const std::vector<double> &values) {
        if (values.empty())
            return;
        for (std::size_t l = 0; l < L; ++l) {
            QVector<double> y(static_cast<qsizetype>(N));
            for (std::size_t i = 0; i < N; ++i)
                y[qsizetype(i)] = values[i * L + l];
            QCPGraph *g = p->addGraph(rect->axis(QCPAxis::atBottom), rect->axis(QCPAxis::atLeft));
            g->setData(steps, y, true);
            g->setProperty("moescopeLayer", int(l)); // not "layer": QCPLayerable has that property
            g->setSelectable(QCP::stNone);
        }
        rect->axis(QCPAxis::atBottom)->setRange(steps.front(), std::max(steps.back(), steps.front() + 1));
        double lo = INFINITY, hi = -INFINITY;
        for (double v : values)
            if (std::isfinite(v)) {
                lo = std::min(lo, v);
                hi = std::max(hi, v);
            }
        if (std::isfinite(lo))
            rect->axis(QCPAxis::atLeft)->setRange(lo - (hi - lo) * 0.05 - 1e-9, hi + (hi - lo) * 0.08 + 1e-9);
    };
    addCurves(m_lbRect, s->lbLoss);
    addCurves(m_zRect, s->zLoss);
    m_lbRect->setVisible(!s->lbLoss.empty());
    m_zRect->setVisible(!s->zLoss.empty());
    m_title->setText(tr("Router health over training (bold: the selected layer)"));
    if (m_layer >= int(L))
        m_layer = 0;
    restyleCurves();
    rebuildHeatmap();
    // The whole series' steps (set by the curves, widened by the heatmap's cells).
    const QCPRange whole = (m_lbRect->visible() ? m_lbRect : m_zRect)->axis(QCPAxis::atBottom)->range();
    m_wholeLower = whole.lower;
    m_wholeUpper = whole.upper;
    replotAll();
}

void TrainingPlot::restyleCurves()
{
    QCustomPlot *p = plot();
    const TrainingSeries *s = series();
    if (!s)
        return;
    const int L = int(s->numLayers);
    for (int i = 0; i < p->graphCount(); ++i) {
        QCPGraph *g = p->graph(i);
        const int l = g->property("moescopeLayer").toInt();
        QColor c = layerColour(l, L);
        if (l == m_layer) {
            g->setPen(QPen(QColor(0x10, 0x10, 0x10), 2.6));
            g->setLayer(overlayLayer());
        } else {
            c.setAlphaF(L > 12 ? 0.55f : 0.85f);
            g->setPen(QPen(c, 1.1));
            g->setLayer(QStringLiteral("main"));
        }
    }
}

void TrainingPlot::rebuildHeatmap()
{
    const TrainingSeries *s = series();
    if (!s || s->tokensPerExpert.empty() || m_layer < 0 || m_layer >= int(s->numLayers)) {
        m_load->data()->clear();
        m_loadRect->setVisible(s && !s->tokensPerExpert.empty());
        return;
    }
    m_loadRect->setVisible(true);
    const std::size_t N = s->numRecords(), L = s->numLayers, E = s->numExperts;
    const double first = double(s->steps.front()), last = double(s->steps.back());
    auto *cells = new QCPColorMapData(int(N), int(E), QCPRange(first, N > 1 ? last : first + 1),
                                     QCPRange(0, E > 1 ? double(E - 1) : 1.0));
    for (std::size_t i = 0; i < N; ++i) {
        double total = 0;
        for (std::size_t e = 0; e < E; ++e)
            total += double(s->tokensPerExpert[(i * L + std::size_t(m_layer)) * E + e]);
        const double mean = total / double(E);
        for (std::size_t e = 0; e < E; ++e)
            cells->setCell(int(i), int(e),
                          PlotStyle::ratioValue(double(s->tokensPerExpert[(i * L + std::size_t(m_layer)) * E + e]), mean));
    }
    m_load->setData(cells);
    const double half = N > 1 ? (last - first) / double(N - 1) / 2 : 0.5;
    m_loadRect->axis(QCPAxis::atBottom)->setRange(first - half, last + half);
    m_loadRect->axis(QCPAxis::atLeft)->setRange(-0.5, double(E) - 0.5);
    for (QCPAxisRect *r : {m_lbRect, m_zRect})
        r->axis(QCPAxis::atBottom)->setRange(first - half, last + half);
    m_wholeLower = first - half;
    m_wholeUpper = last + half;
    m_loadRect->axis(QCPAxis::atLeft)->setLabel(tr("expert at layer %1").arg(layerName(m_layer)));
}

int TrainingPlot::recordAt(double step) const
{
    const TrainingSeries *s = series();
    if (!s || s->steps.empty())
        return -1;
    int best = 0;
    for (std::size_t i = 1; i < s->steps.size(); ++i)
        if (std::abs(double(s->steps[i]) - step) < std::abs(double(s->steps[std::size_t(best)]) - step))
            best = int(i);
    return best;
}

int TrainingPlot::nearestLayer(QCPAxisRect *rect, const std::vector<double> &values, const QPoint &pos,
                               int record) const
{
    const TrainingSeries *s = series();
    const std::size_t L = s->numLayers;
    int best = -1;
    double bestDistance = 12; // pixels
    for (std::size_t l = 0; l < L; ++l) {
        const double y = rect->axis(QCPAxis::atLeft)->coordToPixel(values[std::size_t(record) * L + l]);
        if (std::abs(y - pos.y()) < bestDistance) {
            bestDistance = std::abs(y - pos.y());
            best = int(l);
        }
    }
    return best;
}

QString TrainingPlot::toolTipAt(const QPoint &pos) const
{
    const TrainingSeries *s = series();
    if (!s)
        return {};
    for (QCPAxisRect *rect : {m_lbRect, m_zRect}) {
        if (!rect->visible() || !rect->rect().contains(pos))
            continue;
        const std::vector<double> &values = rect == m_lbRect ? s->lbLoss : s->zLoss;
        const int record = recordAt(rect->axis(QCPAxis::atBottom)->pixelToCoord(pos.x()));
        if (record < 0)
            return {};
        const int layer = nearestLayer(rect, values, pos, record);
        const int shown = layer >= 0 ? layer : m_layer;
        return tr("step %1<br>layer %2: %3 %4")
            .arg(s->steps[std::size_t(record)])
            .arg(layerName(shown))
            .arg(rect == m_lbRect ? tr("lb loss") : tr("z-loss"))
            .arg(formatNumber(values[std::size_t(record) * s->numLayers + std::size_t(shown)], 4));
    }
    if (m_loadRect->visible() && m_loadRect->rect().contains(pos) && !s->tokensPerExpert.empty()) {
        const int record = recordAt(m_loadRect->axis(QCPAxis::atBottom)->pixelToCoord(pos.x()));
        const int e = int(std::lround(m_loadRect->axis(QCPAxis::atLeft)->pixelToCoord(pos.y())));
        if (record < 0 || e < 0 || e >= int(s->numExperts))
            return {};
        const std::size_t L = s->numLayers, E = s->numExperts;
        return tr("step %1, layer %2, expert %3: %4 tokens")
            .arg(s->steps[std::size_t(record)])
            .arg(layerName(m_layer))
            .arg(e)
            .arg(formatCount(s->tokensPerExpert[(std::size_t(record) * L + std::size_t(m_layer)) * E + std::size_t(e)]));
    }
    return {};
}

void TrainingPlot::clickedAt(const QPoint &pos)
{
    const TrainingSeries *s = series();
    if (!s)
        return;
    for (QCPAxisRect *rect : {m_lbRect, m_zRect}) {
        if (!rect->visible() || !rect->rect().contains(pos))
            continue;
        const std::vector<double> &values = rect == m_lbRect ? s->lbLoss : s->zLoss;
        const int record = recordAt(rect->axis(QCPAxis::atBottom)->pixelToCoord(pos.x()));
        const int layer = record >= 0 ? nearestLayer(rect, values, pos, record) : -1;
        if (layer >= 0)
            emit layerClicked(layer);
        return;
    }
    if (m_loadRect->visible() && m_loadRect->rect().contains(pos)) {
        const int e = int(std::lround(m_loadRect->axis(QCPAxis::atLeft)->pixelToCoord(pos.y())));
        if (e >= 0 && e < int(s->numExperts))
            emit expertClicked(e);
    }
}

void TrainingPlot::writeCsv(QTextStream &out) const
{
    const TrainingSeries *s = series();
    QStringList header = {"step", "layer", "lb_loss", "z_loss"};
    const std::size_t E = s ? s->numExperts : 0;
    const bool tokens = s && !s->tokensPerExpert.empty();
    if (tokens)
        for (std::size_t e = 0; e < E; ++e)
            header << QStringLiteral("tokens_expert_%1").arg(e);
    writeCsvRow(out, header);
    if (!s)
        return;
    const std::size_t L = s->numLayers;
    for (std::size_t i = 0; i < s->numRecords(); ++i)
        for (std::size_t l = 0; l < L; ++l) {
            QStringList row = {QString::number(s->steps[i]), QString::number(l),
                               s->lbLoss.empty() ? QString() : csvNumber(s->lbLoss[i * L + l]),
                               s->zLoss.empty() ? QString() : csvNumber(s->zLoss[i * L + l])};
            if (tokens)
                for (std::size_t e = 0; e < E; ++e)
                    row << QString::number(s->tokensPerExpert[(i * L + l) * E + e]);
            writeCsvRow(out, row);
        }
}

} // namespace moescope::ui
