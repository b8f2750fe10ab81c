#include "RoutingMapToolTips.h"

#include "Format.h"
#include "JobSlot.h"
#include "analysis/TokenGates.h"

#include <QStringList>
#include <QToolTip>
#include <QWidget>

#include <cmath>

namespace moescope::ui {

RoutingMapToolTip::RoutingMapToolTip(QWidget *widget)
    : QObject(widget), m_widget(widget), m_gatesJob(new JobSlot(tr("Gate weights"), this))
{
}

QString RoutingMapToolTip::cellText(const DumpSnapshot &snapshot, std::int64_t sequence,
                                    std::int64_t position, int layer)
{
    const auto &a = snapshot.analysis;
    const std::int64_t seqBegin = snapshot.sequenceBegin(sequence);
    // Only a layer in memory: a tooltip never waits for the dump to be read.
    const LayerPassPtr pass = a.layers ? a.layers->resident(std::size_t(layer)) : nullptr;
    QString experts;
    if (!pass) {
        experts = tr("choices not in memory (shown once the layer is read)");
    } else if (const LayerChoices &c = pass->choices; !c.valid[std::size_t(position)]) {
        experts = tr("invalid token (NaN or infinite logits)");
    } else {
        QStringList ids;
        for (int j = 0; j < c.topK; ++j)
            ids << QString::number(c.ids[std::size_t(position) * std::size_t(c.topK) + std::size_t(j)]);
        experts = tr("expert(s) %1").arg(ids.join(QStringLiteral(", ")));
    }
    const QString label = snapshot.sequenceLabel(sequence);
    return tr("<b>%1</b> (id %2)<br>position %3 of sequence %4%5<br>layer %6: %7")
        .arg(snapshot.tokenDisplay(position).toHtmlEscaped())
        .arg(a.tokenIds[std::size_t(position)])
        .arg(formatCount(position - seqBegin))
        .arg(sequence)
        .arg(label.isEmpty() ? QString() : QStringLiteral(" (%1)").arg(label.toHtmlEscaped()))
        .arg(snapshot.layerName(layer).toHtmlEscaped(), experts);
}

QString RoutingMapToolTip::binText(const DumpSnapshot &snapshot, std::int64_t sequence, std::int64_t position,
                                   int layer, double ppt)
{
    // A bin of several tokens: say what it summarises.
    const std::int64_t seqBegin = snapshot.sequenceBegin(sequence);
    const std::int64_t span = std::int64_t(std::ceil(1.0 / ppt));
    const int e = snapshot.analysis.bestExpert(std::size_t(layer), position);
    return tr("positions %1 to %2 of sequence %3 (zoom in for single tokens)<br>layer %4, first "
              "token's best expert %5")
        .arg(formatCount(position - seqBegin), formatCount(position - seqBegin + span - 1))
        .arg(sequence)
        .arg(snapshot.layerName(layer))
        .arg(e);
}

QString RoutingMapToolTip::legendText(int expert)
{
    return tr("Expert %1 (click to select)").arg(expert);
}

QString RoutingMapToolTip::gatesText(const TokenGates &g)
{
    if (g.weights.empty())
        return tr("no gate weights in the dump");
    QStringList parts;
    for (std::size_t i = 0; i < g.experts.size(); ++i)
        parts << (i < g.weights.size() ? tr("%1 (%2)").arg(g.experts[i]).arg(formatNumber(g.weights[i], 3))
                                       : QString::number(g.experts[i]));
    return tr("gate weights: %1%2")
        .arg(parts.join(QStringLiteral(", ")), g.weightsRecorded ? QString() : tr(" (from logits)"));
}

void RoutingMapToolTip::showCell(const DumpSnapshotPtr &snapshot, std::int64_t sequence,
                                 std::int64_t position, int layer, const QPoint &globalPos,
                                 std::function<bool()> stillOver)
{
    const QString base = cellText(*snapshot, sequence, position, layer);
    QToolTip::showText(globalPos, base, m_widget);
    const auto dump = snapshot->dump;
    if (!dump)
        return;
    m_gatesJob->start<TokenGates>(
        [dump, layer, position](const Progress &) { return tokenGates(*dump, std::size_t(layer), position); },
        [this, base, globalPos, stillOver = std::move(stillOver)](TokenGates g) {
            if (!QToolTip::isVisible() || !stillOver())
                return;
            QToolTip::showText(globalPos, base + QStringLiteral("<br>") + gatesText(g), m_widget);
        });
}

} // namespace moescope::ui
