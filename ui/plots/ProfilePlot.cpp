#include "ProfilePlot.h"

#include "ExpertPalette.h"
#include "Format.h"
#include "PlotStyle.h"
#include "export/Csv.h"

#include <QTextStream>
#include <qcustomplot.h>

#include <cmath>

namespace moescope::ui {

ProfilePlot::ProfilePlot(QWidget *parent) : PlotWidget(parent)
{
    QCustomPlot *p = plot();
    // Bars run along the x axis: key axis = y (rank), value axis = x (count).
    m_bars = new QCPBars(p->yAxis, p->xAxis);
    m_bars->setWidth(0.7);
    m_bars->setPen(Qt::NoPen);
    m_bars->setSelectable(QCP::stNone);
    p->yAxis->setRangeReversed(true);
    p->yAxis->grid()->setVisible(false);
    p->xAxis->setLabel(tr("tokens routed to the expert"));
    p->plotLayout()->insertRow(0);
    m_title = new QCPTextElement(p, QString(), PlotStyle::titleFont());
    p->plotLayout()->addElement(0, 0, m_title);
    setPlaceholder(tr("Select an expert to see the tokens it receives."));
}

void ProfilePlot::clear()
{
    m_snapshot.reset();
    m_profile = {};
    m_bars->data()->clear();
    m_title->setText(QString());
    plot()->clearItems();
    setPlaceholder(tr("Select an expert to see the tokens it receives."));
    replotAll();
}

void ProfilePlot::showChart(const DumpSnapshotPtr &snapshot, const ProfileParameters &parameters)
{
    m_snapshot = snapshot;
    m_layer = parameters.layer;
    m_profile = parameters.profile;
    const int layer = m_layer;
    const ExpertProfile &profile = m_profile;
    QCustomPlot *p = plot();
    p->clearItems();
    setPlaceholder(profile.tokens.empty() ? tr("Expert %1 receives no token at this layer.").arg(profile.expert)
                                          : QString());
    const int n = std::min<int>(kTopTokens, int(profile.tokens.size()));
    QVector<double> keys, values;
    QSharedPointer<QCPAxisTickerText> ticks(new QCPAxisTickerText);
    double maxCount = 1;
    for (int i = 0; i < n; ++i) {
        const TokenShare &t = profile.tokens[std::size_t(i)];
        keys.push_back(i);
        values.push_back(double(t.count));
        maxCount = std::max(maxCount, double(t.count));
        QString text = snapshot->tokenIdDisplay(t.id);
        if (text.size() > 18)
            text = text.left(17) + QChar(0x2026);
        ticks->addTick(i, text);
    }
    m_bars->setData(keys, values, true);
    m_bars->setBrush(ExpertPalette(snapshot->numExperts()).colour(profile.expert));
    // Share labels at the end of each bar: how faithfully the token goes here.
    for (int i = 0; i < n; ++i) {
        const TokenShare &t = profile.tokens[std::size_t(i)];
        auto *label = new QCPItemText(p);
        label->position->setCoords(double(t.count), i);
        label->setPositionAlignment(Qt::AlignLeft | Qt::AlignVCenter);
        label->setPadding(QMargins(4, 0, 0, 0));
        label->setFont(PlotStyle::labelFont());
        label->setColor(QColor(0x44, 0x44, 0x44));
        label->setText(tr("%1 \u00b7 lift %2").arg(formatPercent(t.share, 0), formatNumber(t.lift, 1)));
        label->setSelectable(false);
    }
    p->yAxis->setTicker(ticks);
    p->yAxis->setTickLabelFont(PlotStyle::labelFont());
    p->xAxis->setRange(0, maxCount * 1.3);
    fitRows(height());
    m_title->setText(tr("Layer %1, expert %2: top tokens of %3 routed")
                         .arg(snapshot->layerName(layer))
                         .arg(profile.expert)
                         .arg(formatCount(profile.routed)));
    replotAll();
}

void ProfilePlot::fitRows(int height)
{
    const int available = std::max(1, (height - 80) / 17);
    const int n = std::min<int>({kTopTokens, int(m_profile.tokens.size()), std::max(available, 5)});
    plot()->yAxis->setRange(-0.6, std::max(n, 1) - 0.4);
}

void ProfilePlot::resizeEvent(QResizeEvent *event)
{
    PlotWidget::resizeEvent(event);
    fitRows(height());
}

void ProfilePlot::renderChart(QPainter &painter, const QSize &size)
{
    fitRows(size.height());
    PlotWidget::renderChart(painter, size);
    fitRows(height());
}

int ProfilePlot::rowAt(const QPoint &pos) const
{
    if (!m_snapshot || !plot()->axisRect()->rect().contains(pos))
        return -1;
    const int row = int(std::lround(plot()->yAxis->pixelToCoord(pos.y())));
    const QCPRange shown = plot()->yAxis->range();
    return row >= 0 && row < std::min<int>(kTopTokens, int(m_profile.tokens.size())) && row < shown.upper ? row : -1;
}

QString ProfilePlot::toolTipAt(const QPoint &pos) const
{
    const int row = rowAt(pos);
    if (row < 0)
        return {};
    const TokenShare &t = m_profile.tokens[std::size_t(row)];
    return tr("<b>%1</b> (id %2)<br>%3 routed here<br>share %4, lift %5")
        .arg(m_snapshot->tokenIdDisplay(t.id).toHtmlEscaped())
        .arg(t.id)
        .arg(formatCount(t.count), formatPercent(t.share), formatNumber(t.lift, 2));
}

void ProfilePlot::clickedAt(const QPoint &pos)
{
    const int row = rowAt(pos);
    if (row >= 0)
        emit tokenClicked(m_profile.tokens[std::size_t(row)].id);
}

void ProfilePlot::writeCsv(QTextStream &out) const
{
    writeCsvRow(out, {"layer", "expert", "token_id", "token", "count", "share", "lift"});
    if (!m_snapshot)
        return;
    const QString layer = QString::fromStdString(m_snapshot->info().layers[std::size_t(m_layer)].name);
    for (const TokenShare &t : m_profile.tokens)
        writeCsvRow(out, {layer, QString::number(m_profile.expert), QString::number(t.id),
                          QString::fromStdString(tokenText(m_snapshot->analysis.vocab, t.id)),
                          QString::number(t.count), csvNumber(t.share), csvNumber(t.lift)});
}

} // namespace moescope::ui
