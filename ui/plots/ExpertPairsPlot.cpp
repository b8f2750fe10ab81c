#include "ExpertPairsPlot.h"

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
// White to deep blue: a share of 0 disappears into the page, strong pairs stand out.
QCPColorGradient shareGradient()
{
    QCPColorGradient g;
    g.setColorStopAt(0.0, QColor(0xff, 0xff, 0xff));
    g.setColorStopAt(0.25, QColor(0xc6, 0xdb, 0xef));
    g.setColorStopAt(0.6, QColor(0x42, 0x92, 0xc6));
    g.setColorStopAt(1.0, QColor(0x08, 0x30, 0x6b));
    g.setColorInterpolation(QCPColorGradient::ciRGB);
    g.setNanHandling(QCPColorGradient::nhNanColor);
    g.setNanColor(QColor(0xe4, 0xe4, 0xe4)); // the diagonal and empty rows
    return g;
}
} // namespace

ExpertPairsPlot::ExpertPairsPlot(QWidget *parent) : PlotWidget(parent)
{
    QCustomPlot *p = plot();
    m_map = new QCPColorMap(p->xAxis, p->yAxis);
    m_map->setInterpolate(false);
    m_map->setTightBoundary(false);

    m_scale = new QCPColorScale(p);
    p->plotLayout()->addElement(0, 1, m_scale);
    m_scale->setType(QCPAxis::atRight);
    m_scale->setBarWidth(10);
    m_scale->axis()->setTickLabelFont(PlotStyle::labelFont());
    m_scale->axis()->setLabelFont(PlotStyle::labelFont());
    m_scale->axis()->setLabel(tr("% of the row's tokens"));
    m_scale->axis()->setNumberFormat(QStringLiteral("f"));
    m_scale->axis()->setNumberPrecision(0);
    m_map->setColorScale(m_scale);
    m_scale->setGradient(shareGradient());
    auto *group = new QCPMarginGroup(p);
    p->axisRect()->setMarginGroup(QCP::msBottom | QCP::msTop, group);
    m_scale->setMarginGroup(QCP::msBottom | QCP::msTop, group);

    m_row = new QCPItemRect(p);
    m_row->setLayer(overlayLayer());
    m_row->setPen(QPen(LoadColours::selection(), 2.0));
    m_row->setBrush(Qt::NoBrush);
    m_row->setClipToAxisRect(true);
    m_row->setSelectable(false);
    m_row->setVisible(false);

    p->yAxis->setRangeReversed(true); // expert 0 on top, as in a table
    p->xAxis->grid()->setVisible(false);
    p->yAxis->grid()->setVisible(false);
    m_title = new QCPTextElement(p, QString(), PlotStyle::titleFont());
    p->plotLayout()->insertRow(0);
    p->plotLayout()->addElement(0, 0, m_title);
    p->plotLayout()->setRowStretchFactor(0, 0.01);
    setPlaceholder(tr("Open a dump to see which experts work together."));
}

void ExpertPairsPlot::setKind(PairKind kind)
{
    m_kind = kind;
}

const PairMatrix &ExpertPairsPlot::pairs() const
{
    static const PairMatrix none;
    return m_pairs ? *m_pairs : none;
}

void ExpertPairsPlot::clear(const QString &why)
{
    m_pairs.reset();
    m_snapshot.reset(); // an old dump is not kept alive by an empty chart
    m_map->data()->clear();
    setPlaceholder(why);
    replotAll();
}

QString ExpertPairsPlot::toLayerName() const
{
    const int to = pairs().kind == PairKind::Transitions ? pairs().layer + 1 : pairs().layer;
    return m_snapshot ? m_snapshot->layerName(to) : QString();
}

void ExpertPairsPlot::showChart(const DumpSnapshotPtr &snapshot, const PairsParameters &parameters)
{
    m_expert = parameters.expert;
    if (snapshot == m_snapshot && parameters.pairs == m_pairs) {
        placeSelectedRow();
        return;
    }
    m_snapshot = snapshot;
    m_pairs = parameters.pairs;
    if (!m_snapshot || pairs().isEmpty()) {
        clear(tr("Nothing to show."));
        return;
    }
    setPlaceholder(QString());
    QCustomPlot *p = plot();
    const int E = pairs().numExperts;
    const QCPRange range(0, std::max(1, E - 1));
    auto *cells = new QCPColorMapData(E, E, range, range);
    double top = 0;
    for (int e1 = 0; e1 < E; ++e1)
        for (int e2 = 0; e2 < E; ++e2) {
            const double s = 100.0 * pairs().share(e1, e2); // percent: the scale's ticks read "40"
            cells->setCell(e2, e1, s);
            if (std::isfinite(s))
                top = std::max(top, s);
        }
    m_map->setData(cells);
    // The scale ends at the strongest pair, so a weak structure is still visible; at
    // least the uniform share, so noise around it stays pale.
    const double uniform = pairs().uniformShare(m_snapshot->info().topK);
    m_scale->setDataRange(QCPRange(0, std::max({top, std::isfinite(uniform) ? 200 * uniform : 0.0, 1e-4})));
    p->xAxis->setRange(-0.5, E - 0.5);
    p->yAxis->setRange(-0.5, E - 0.5);
    p->xAxis->setTicker(PlotStyle::expertTicker(E));
    p->yAxis->setTicker(PlotStyle::expertTicker(E));

    const QString layer = m_snapshot->layerName(pairs().layer);
    const QString uniformText = formatPercent(uniform, 1);
    if (pairs().kind == PairKind::AdjacentCoActivation) {
        m_title->setText(tr("Layer %1 adjacent: % of e1's tokens (row) with e2 next in score order\n"
                            "independent choices: %2 per cell \u00b7 grey: the diagonal")
                             .arg(layer, uniformText));
        p->xAxis->setLabel(tr("expert ranked next to it (e2)"));
        p->yAxis->setLabel(tr("expert (e1), layer %1").arg(layer));
    } else if (pairs().kind == PairKind::CoActivation) {
        m_title->setText(tr("Layer %1 co-activation: % of e1's tokens (row) that also chose e2\n"
                            "independent choices: %2 per cell \u00b7 grey: the diagonal")
                             .arg(layer, uniformText));
        p->xAxis->setLabel(tr("expert chosen with it (e2)"));
        p->yAxis->setLabel(tr("expert (e1), layer %1").arg(layer));
    } else {
        m_title->setText(tr("Layer %1 \u2192 %2: % of e1's best tokens (row) whose best next is e2\n"
                            "independent layers: %3 per cell \u00b7 grey: e1 is no token's best")
                             .arg(layer, toLayerName(), uniformText));
        p->xAxis->setLabel(tr("best expert at layer %1 (e2)").arg(toLayerName()));
        p->yAxis->setLabel(tr("best expert at layer %1 (e1)").arg(layer));
    }
    placeSelectedRow();
    replotAll();
}

void ExpertPairsPlot::placeSelectedRow()
{
    const int expert = m_expert;
    const bool shown = !pairs().isEmpty() && expert >= 0 && expert < pairs().numExperts;
    m_row->setVisible(shown);
    if (shown) {
        m_row->topLeft->setCoords(-0.5, expert - 0.5);
        m_row->bottomRight->setCoords(pairs().numExperts - 0.5, expert + 0.5);
    }
    replotOverlay();
}

QSize ExpertPairsPlot::defaultExportSize() const
{
    const int E = std::max(1, pairs().numExperts);
    const int side = std::clamp(120 + E * 12, 480, 2000);
    return {side + 140, side + 40};
}

bool ExpertPairsPlot::cellAt(const QPoint &pos, int &e1, int &e2) const
{
    if (pairs().isEmpty() || !plot()->axisRect()->rect().contains(pos))
        return false;
    e2 = int(std::lround(plot()->xAxis->pixelToCoord(pos.x())));
    e1 = int(std::lround(plot()->yAxis->pixelToCoord(pos.y())));
    return e1 >= 0 && e1 < pairs().numExperts && e2 >= 0 && e2 < pairs().numExperts;
}

QString ExpertPairsPlot::toolTipAt(const QPoint &pos) const
{
    int e1 = 0, e2 = 0;
    if (!cellAt(pos, e1, e2))
        return {};
    const std::int64_t n = pairs().count(e1, e2), total = pairs().rowTotal(e1);
    const QString layer = m_snapshot->layerName(pairs().layer);
    if (total == 0)
        return isCoActivation(pairs().kind)
                   ? tr("<b>Expert %1</b> at layer %2 received no tokens").arg(e1).arg(layer)
                   : tr("No token has expert %1 as its best at layer %2").arg(e1).arg(layer);
    if (isCoActivation(pairs().kind)) {
        if (e1 == e2)
            return tr("<b>Expert %1</b> at layer %2: %3 tokens").arg(e1).arg(layer, formatCount(total));
        return tr("<b>Experts %1 and %2</b> at layer %3<br>%4 tokens chose both: %5 of expert %1's %6"
                  "<br>Click: select expert %2")
            .arg(e1)
            .arg(e2)
            .arg(layer, formatCount(n), formatPercent(pairs().share(e1, e2), 1), formatCount(total));
    }
    return tr("<b>Expert %1 \u2192 expert %2</b> (layer %3 \u2192 %4)<br>%5 tokens: %6 of the %7 whose best "
              "expert is %1 at layer %3<br>Click: select expert %2 at layer %4")
        .arg(e1)
        .arg(e2)
        .arg(layer, toLayerName(), formatCount(n), formatPercent(pairs().share(e1, e2), 1), formatCount(total));
}

void ExpertPairsPlot::clickedAt(const QPoint &pos)
{
    int e1 = 0, e2 = 0;
    if (cellAt(pos, e1, e2))
        emit cellClicked(e1, e2);
}

void ExpertPairsPlot::writeCsv(QTextStream &out) const
{
    // Layers by position in the ordered list, as --layer takes them.
    const bool co = isCoActivation(pairs().kind);
    QStringList header = co ? QStringList{"layer"} : QStringList{"from_layer", "to_layer"};
    header << "e1" << "e2" << "count" << "share_of_e1";
    writeCsvRow(out, header);
    if (!hasChartData())
        return;
    QStringList layers = {QString::number(pairs().layer)};
    if (!co)
        layers << QString::number(pairs().layer + 1);
    for (int e1 = 0; e1 < pairs().numExperts; ++e1)
        for (int e2 = 0; e2 < pairs().numExperts; ++e2)
            writeCsvRow(out, QStringList(layers) << QString::number(e1) << QString::number(e2)
                                                 << QString::number(pairs().count(e1, e2))
                                                 << csvNumber(pairs().share(e1, e2)));
}

} // namespace moescope::ui
