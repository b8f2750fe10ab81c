#include "DomainPlot.h"

#include "ExpertPalette.h"
#include "Format.h"
#include "PlotStyle.h"
#include "export/Csv.h"
#include "stats/LabelShares.h"

#include <QTextStream>
#include <qcustomplot.h>

#include <algorithm>
#include <cmath>

namespace moescope::ui {

DomainPlot::DomainPlot(QWidget *parent) : PlotWidget(parent)
{
    QCustomPlot *p = plot();
    m_map = new QCPColorMap(p->xAxis, p->yAxis);
    m_map->setInterpolate(false);
    m_map->setTightBoundary(false);
    auto *scale = new QCPColorScale(p);
    p->plotLayout()->addElement(0, 1, scale);
    scale->setType(QCPAxis::atRight);
    scale->setBarWidth(10);
    QSharedPointer<QCPAxisTickerText> ticks = PlotStyle::ratioTicker();
    ticks->addTick(0, tr("1\u00d7 k/E"));
    scale->axis()->setTicker(ticks);
    scale->axis()->setTickLabelFont(PlotStyle::labelFont());
    scale->axis()->setLabelFont(PlotStyle::labelFont());
    scale->axis()->setLabel(tr("share of the label's tokens / uniform k/E"));
    m_map->setColorScale(scale);
    scale->setGradient(PlotStyle::loadGradient());
    scale->setDataRange(QCPRange(-PlotStyle::kRatioRange, PlotStyle::kRatioRange));
    auto *group = new QCPMarginGroup(p);
    p->axisRect()->setMarginGroup(QCP::msBottom | QCP::msTop, group);
    scale->setMarginGroup(QCP::msBottom | QCP::msTop, group);
    m_column = new QCPItemRect(p);
    m_column->setLayer(overlayLayer());
    m_column->setPen(QPen(LoadColours::selection(), 2.5));
    m_column->setBrush(Qt::NoBrush);
    m_column->setVisible(false);
    m_column->setSelectable(false);
    p->xAxis->setLabel(tr("expert"));
    p->yAxis->setLabel(tr("label"));
    p->yAxis->setRangeReversed(true);
    p->xAxis->grid()->setVisible(false);
    p->yAxis->grid()->setVisible(false);
    m_title = new QCPTextElement(p, QString(), PlotStyle::titleFont());
    p->plotLayout()->insertRow(0);
    p->plotLayout()->addElement(0, 0, m_title);
    p->plotLayout()->setRowStretchFactor(0, 0.01);
    setPlaceholder(tr("The dump has no sequence labels."));
}

bool DomainPlot::hasChartData() const { return m_snapshot && !m_labels.empty(); }

QSize DomainPlot::defaultExportSize() const
{
    const int E = m_snapshot ? m_snapshot->numExperts() : 8;
    return {std::clamp(220 + E * 14, 700, 2400), std::clamp(160 + int(m_labels.size()) * 40, 300, 1200)};
}

void DomainPlot::showChart(const DumpSnapshotPtr &snapshot, const DomainParameters &parameters)
{
    m_snapshot = snapshot;
    m_parameters = parameters;
    rebuild();
}

void DomainPlot::rebuild()
{
    QCustomPlot *p = plot();
    m_labels.clear();
    m_shares.clear();
    const int layer = m_parameters.layer;
    if (!m_snapshot || m_snapshot->partial || layer < 0 || layer >= m_snapshot->numLayers() ||
        m_snapshot->analysis.report.layers[std::size_t(layer)].labelShares.empty()) {
        m_map->data()->clear();
        setPlaceholder(tr("The dump has no sequence labels: domain specialisation needs /tokens/sequence_labels."));
        replotAll();
        return;
    }
    setPlaceholder({});
    const LayerReport &lr = m_snapshot->analysis.report.layers[std::size_t(layer)];
    const int E = m_snapshot->numExperts(), k = m_snapshot->info().topK;
    for (const auto &[label, shares] : domainSpecialisation(lr.labelShares, k)) {
        m_labels.push_back(label);
        m_shares.push_back(shares);
    }
    const int G = int(m_labels.size());
    const double uniform = double(k) / double(E);
    auto *cells = new QCPColorMapData(E, G, QCPRange(0, std::max(1, E - 1)), QCPRange(0, std::max(1, G - 1)));
    if (E == 1 || G == 1)
        cells->setRange(QCPRange(0, E == 1 ? 1 : E - 1), QCPRange(0, G == 1 ? 1 : G - 1));
    QSharedPointer<QCPAxisTickerText> rows(new QCPAxisTickerText);
    for (int g = 0; g < G; ++g) {
        rows->addTick(g, QString::fromStdString(m_labels[std::size_t(g)]));
        for (int e = 0; e < E; ++e)
            cells->setCell(e, g, PlotStyle::ratioValue(m_shares[std::size_t(g)][std::size_t(e)], uniform));
    }
    m_map->setData(cells);
    p->yAxis->setTicker(rows);
    p->xAxis->setTicker(PlotStyle::expertTicker(E));
    p->xAxis->setRange(-0.5, E - 0.5);
    p->yAxis->setRange(-0.5, G - 0.5);
    const int expert = m_parameters.expert;
    m_column->setVisible(expert >= 0 && expert < E);
    m_column->topLeft->setCoords(expert - 0.5, -0.5);
    m_column->bottomRight->setCoords(expert + 0.5, G - 0.5);
    m_title->setText(tr("Layer %1: share of each label's tokens at each expert (k/E = %2)")
                         .arg(m_snapshot->layerName(layer), formatPercent(uniform)));
    replotAll();
}

bool DomainPlot::cellAt(const QPoint &pos, int &label, int &expert) const
{
    if (!hasChartData() || !plot()->axisRect()->rect().contains(pos))
        return false;
    expert = int(std::lround(plot()->xAxis->pixelToCoord(pos.x())));
    label = int(std::lround(plot()->yAxis->pixelToCoord(pos.y())));
    return expert >= 0 && expert < m_snapshot->numExperts() && label >= 0 && label < int(m_labels.size());
}

QString DomainPlot::toolTipAt(const QPoint &pos) const
{
    int label = 0, expert = 0;
    if (!cellAt(pos, label, expert))
        return {};
    const double share = m_shares[std::size_t(label)][std::size_t(expert)];
    return tr("<b>%1, expert %2</b><br>%3 of the label's tokens chose it")
        .arg(QString::fromStdString(m_labels[std::size_t(label)]).toHtmlEscaped())
        .arg(expert)
        .arg(formatPercent(share));
}

void DomainPlot::clickedAt(const QPoint &pos)
{
    int label = 0, expert = 0;
    if (cellAt(pos, label, expert))
        emit expertClicked(expert);
}

void DomainPlot::writeCsv(QTextStream &out) const
{
    writeCsvRow(out, {"layer", "label", "expert", "token_share", "utilization_share", "uniform"});
    if (!hasChartData())
        return;
    const int E = m_snapshot->numExperts();
    const double k = double(m_snapshot->info().topK);
    for (std::size_t g = 0; g < m_labels.size(); ++g)
        for (int e = 0; e < E; ++e)
            writeCsvRow(out, {m_snapshot->layerName(m_parameters.layer), QString::fromStdString(m_labels[g]),
                              QString::number(e), csvNumber(m_shares[g][std::size_t(e)]),
                              csvNumber(m_shares[g][std::size_t(e)] / k), csvNumber(k / E)});
}

} // namespace moescope::ui
