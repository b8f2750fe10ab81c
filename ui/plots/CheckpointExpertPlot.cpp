#include "CheckpointExpertPlot.h"

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
QSharedPointer<QCPAxisTickerText> checkpointTicker(const CheckpointComparison &c)
{
    QSharedPointer<QCPAxisTickerText> ticks(new QCPAxisTickerText);
    for (std::size_t col = 0; col < c.order.size(); ++col)
        ticks->addTick(double(col), checkpointLabel(c, c.order[col]));
    return ticks;
}

QCPTextElement *addTitle(QCustomPlot *p)
{
    auto *title = new QCPTextElement(p, QString(), PlotStyle::titleFont());
    p->plotLayout()->insertRow(0);
    p->plotLayout()->addElement(0, 0, title);
    p->plotLayout()->setRowStretchFactor(0, 0.01);
    return title;
}

bool validLayer(const CheckpointComparisonPtr &c, int layer)
{
    return c && layer >= 0 && layer < int(c->layers.size());
}
} // namespace

CheckpointExpertPlot::CheckpointExpertPlot(QWidget *parent) : PlotWidget(parent)
{
    QCustomPlot *p = plot();
    m_jaccard = p->addGraph(p->xAxis, p->yAxis);
    m_jaccard->setPen(QPen(QColor(0x1f, 0x77, 0xb4), 2));
    m_jaccard->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssCircle, 6));
    m_jaccard->setName(tr("Jaccard with the reference's tokens"));
    p->yAxis2->setVisible(true);
    m_load = p->addGraph(p->xAxis, p->yAxis2);
    m_load->setPen(QPen(LoadColours::hot(), 2, Qt::DashLine));
    m_load->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssSquare, 6));
    m_load->setName(tr("load / layer mean (right)"));
    p->yAxis->setLabel(tr("Jaccard"));
    p->yAxis->setRange(0, 1.02);
    p->yAxis2->setLabel(tr("load / mean"));
    p->xAxis->setLabel(tr("checkpoint"));
    p->legend->setVisible(true);
    p->legend->setFont(PlotStyle::labelFont());
    p->axisRect()->insetLayout()->setInsetAlignment(0, Qt::AlignBottom | Qt::AlignRight);
    m_marker = new QCPItemStraightLine(p);
    m_marker->setPen(QPen(LoadColours::selection(), 1.5, Qt::DotLine));
    m_marker->setVisible(false);
    m_title = addTitle(p);
    setPlaceholder(tr("No checkpoints compared."));
}

bool CheckpointExpertPlot::hasChartData() const
{
    return validLayer(m_comparison, m_parameters.layer) && m_parameters.expert >= 0 &&
           m_parameters.expert < m_comparison->numExperts;
}

void CheckpointExpertPlot::showChart(const CheckpointComparisonPtr &comparison,
                                     const CheckpointExpertParameters &parameters)
{
    m_comparison = comparison;
    m_parameters = parameters;
    rebuild();
}

void CheckpointExpertPlot::rebuild()
{
    QCustomPlot *p = plot();
    if (!hasChartData()) {
        setPlaceholder(tr("No checkpoints compared."));
        replotAll();
        return;
    }
    setPlaceholder({});
    const CheckpointComparison &c = *m_comparison;
    const CheckpointLayer &layer = c.layers[std::size_t(m_parameters.layer)];
    const auto e = std::size_t(m_parameters.expert);
    QVector<double> x, jaccard, load;
    double top = 1;
    for (std::size_t col = 0; col < c.order.size(); ++col) {
        const CheckpointFigures &f = layer.figures.checkpoints[c.order[col]];
        x << double(col);
        jaccard << f.expertJaccard[e];
        load << f.utilization[e] * c.numExperts;
        top = std::max(top, std::isfinite(load.back()) ? load.back() : 0.0);
    }
    m_jaccard->setData(x, jaccard, true);
    m_load->setData(x, load, true);
    p->xAxis->setTicker(checkpointTicker(c));
    p->xAxis->setRange(-0.3, double(c.order.size()) - 0.7);
    p->yAxis2->setRange(0, top * 1.1);
    const int mark = m_parameters.checkpoint;
    m_marker->setVisible(mark >= 0 && mark < int(c.files.size()));
    if (m_marker->visible()) {
        const double col = double(std::find(c.order.begin(), c.order.end(), std::size_t(mark)) - c.order.begin());
        m_marker->point1->setCoords(col, 0);
        m_marker->point2->setCoords(col, 1);
    }
    m_title->setText(tr("Layer %1, expert %2 across checkpoints")
                         .arg(QString::fromStdString(layer.name))
                         .arg(m_parameters.expert));
    replotAll();
}

void CheckpointExpertPlot::writeCsv(QTextStream &out) const
{
    writeCsvRow(out, {"layer", "expert", "file", "step", "utilization", "load_over_mean", "jaccard"});
    if (!hasChartData())
        return;
    const CheckpointComparison &c = *m_comparison;
    const CheckpointLayer &layer = c.layers[std::size_t(m_parameters.layer)];
    const auto e = std::size_t(m_parameters.expert);
    for (std::size_t i : c.order) {
        const CheckpointFigures &f = layer.figures.checkpoints[i];
        writeCsvRow(out, {QString::fromStdString(layer.name), QString::number(e), QString::fromStdString(c.files[i]),
                          c.steps[i] ? QString::number(*c.steps[i]) : QString(), csvNumber(f.utilization[e]),
                          csvNumber(f.utilization[e] * c.numExperts), csvNumber(f.expertJaccard[e])});
    }
}

LoadChangePlot::LoadChangePlot(QWidget *parent) : PlotWidget(parent)
{
    QCustomPlot *p = plot();
    p->xAxis->setLabel(tr("expert"));
    p->yAxis->setLabel(tr("utilization change (percentage points)"));
    p->xAxis->grid()->setVisible(false);
    m_title = addTitle(p);
    setPlaceholder(tr("No checkpoints compared."));
}

bool LoadChangePlot::hasChartData() const
{
    return validLayer(m_comparison, m_parameters.layer) && m_parameters.checkpoint >= 0 &&
           m_parameters.checkpoint < int(m_comparison->files.size());
}

void LoadChangePlot::showChart(const CheckpointComparisonPtr &comparison, const LoadChangeParameters &parameters)
{
    m_comparison = comparison;
    m_parameters = parameters;
    rebuild();
}

void LoadChangePlot::rebuild()
{
    QCustomPlot *p = plot();
    p->clearPlottables();
    if (!hasChartData()) {
        setPlaceholder(tr("No checkpoints compared."));
        replotAll();
        return;
    }
    setPlaceholder({});
    const CheckpointComparison &c = *m_comparison;
    const CheckpointLayer &layer = c.layers[std::size_t(m_parameters.layer)];
    const CheckpointFigures &f = layer.figures.checkpoints[std::size_t(m_parameters.checkpoint)];
    auto *up = new QCPBars(p->xAxis, p->yAxis), *down = new QCPBars(p->xAxis, p->yAxis);
    up->setBrush(LoadColours::hot());
    down->setBrush(LoadColours::cold());
    for (QCPBars *b : {up, down}) {
        b->setPen(Qt::NoPen);
        b->setWidth(0.8);
        b->setSelectable(QCP::stNone);
    }
    double extent = 0.5;
    // Bars point from the checkpoint to the reference: what the expert gained since.
    for (int e = 0; e < c.numExperts; ++e) {
        const double change = -100.0 * f.loadChange[std::size_t(e)];
        (change >= 0 ? up : down)->addData(e, change);
        extent = std::max(extent, std::fabs(change));
    }
    if (m_parameters.expert >= 0 && m_parameters.expert < c.numExperts) {
        auto *mark = new QCPBars(p->xAxis, p->yAxis);
        mark->setPen(QPen(LoadColours::selection(), 2));
        mark->setBrush(Qt::NoBrush);
        mark->setWidth(0.9);
        mark->addData(m_parameters.expert, -100.0 * f.loadChange[std::size_t(m_parameters.expert)]);
    }
    p->xAxis->setTicker(PlotStyle::expertTicker(c.numExperts));
    p->xAxis->setRange(-0.6, c.numExperts - 0.4);
    p->yAxis->setRange(-extent * 1.1, extent * 1.1);
    m_title->setText(tr("Layer %1: load change %2 \u2192 %3 (drift %4)")
                         .arg(QString::fromStdString(layer.name), checkpointLabel(c, std::size_t(m_parameters.checkpoint)),
                              checkpointLabel(c, c.reference), formatNumber(f.loadDrift)));
    replotAll();
}

int LoadChangePlot::expertAt(const QPoint &pos) const
{
    if (!hasChartData() || !plot()->axisRect()->rect().contains(pos))
        return -1;
    const int e = int(std::lround(plot()->xAxis->pixelToCoord(pos.x())));
    return e >= 0 && e < m_comparison->numExperts ? e : -1;
}

void LoadChangePlot::clickedAt(const QPoint &pos)
{
    const int e = expertAt(pos);
    if (e >= 0)
        emit expertClicked(e);
}

QString LoadChangePlot::toolTipAt(const QPoint &pos) const
{
    const int e = expertAt(pos);
    if (e < 0)
        return {};
    const CheckpointComparison &c = *m_comparison;
    const CheckpointFigures &f = c.layers[std::size_t(m_parameters.layer)].figures.checkpoints[std::size_t(m_parameters.checkpoint)];
    return tr("<b>Expert %1</b><br>%2 of the assignments at %3<br>%4 at the reference")
        .arg(e)
        .arg(formatPercent(f.utilization[std::size_t(e)]), checkpointLabel(c, std::size_t(m_parameters.checkpoint)),
             formatPercent(c.layers[std::size_t(m_parameters.layer)].figures.referenceUtilization[std::size_t(e)]));
}

void LoadChangePlot::writeCsv(QTextStream &out) const
{
    writeCsvRow(out, {"layer", "file", "expert", "utilization", "reference_utilization", "change"});
    if (!hasChartData())
        return;
    const CheckpointComparison &c = *m_comparison;
    const CheckpointLayer &layer = c.layers[std::size_t(m_parameters.layer)];
    const CheckpointFigures &f = layer.figures.checkpoints[std::size_t(m_parameters.checkpoint)];
    for (int e = 0; e < c.numExperts; ++e)
        writeCsvRow(out, {QString::fromStdString(layer.name), QString::fromStdString(c.files[std::size_t(m_parameters.checkpoint)]),
                          QString::number(e), csvNumber(f.utilization[std::size_t(e)]),
                          csvNumber(layer.figures.referenceUtilization[std::size_t(e)]), csvNumber(f.loadChange[std::size_t(e)])});
}

} // namespace moescope::ui
