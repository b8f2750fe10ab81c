#include "PlacementChart.h"

#include "ExpertPalette.h"
#include "Format.h"
#include "PlotStyle.h"
#include "export/Csv.h"

#include <QPainter>
#include <QTextStream>

#include <algorithm>
#include <cmath>

namespace moescope::ui {

namespace {
QFont chartFont(double points = 8.0)
{
    QFont f;
    f.setPointSizeF(points);
    return f;
}

// The four panels: a title strip over each, the plot area inside it.
struct Layout {
    QRectF title, heat, bars, matrix, compare;          // plot areas
    QRectF heatTitle, barsTitle, matrixTitle, compareTitle;
};

Layout layoutFor(const QSize &size)
{
    const QFontMetricsF fm(chartFont());
    const double line = fm.height();
    const double W = size.width(), H = size.height(), m = 8;
    Layout l;
    l.title = QRectF(m, m, W - 2 * m, 2 * line + 4);
    const double top = l.title.bottom() + 6;
    const double leftW = (W - 3 * m) * 0.58, rightW = W - 3 * m - leftW;
    const double rowH = (H - top - 2 * m) / 2;
    auto panel = [&](double x, double y, double w, QRectF &title) {
        title = QRectF(x, y, w, line + 4);
        // Room for rank labels at the left and layer / rank labels below.
        return QRectF(x + 52, y + line + 8, std::max(10.0, w - 60), std::max(10.0, rowH - 2 * line - 20));
    };
    l.heat = panel(m, top, leftW, l.heatTitle);
    l.bars = panel(m, top + rowH + m, leftW, l.barsTitle);
    l.matrix = panel(2 * m + leftW, top, rightW, l.matrixTitle);
    l.compare = panel(2 * m + leftW, top + rowH + m, rightW, l.compareTitle);
    // The matrix is square.
    const double side = std::min(l.matrix.width(), l.matrix.height());
    l.matrix.setSize(QSizeF(side, side));
    return l;
}

int layerCount(const PlacementComparison &c) { return int(c.after.layers.size()); }

int clampedLayer(const PlacementParameters &p)
{
    return std::clamp(p.layer, 0, std::max(0, layerCount(*p.data) - 1));
}

double meanOf(const std::vector<double> &v)
{
    double s = 0;
    for (double x : v)
        s += x;
    return v.empty() ? 0 : s / double(v.size());
}

// Every how many items a label is drawn so labels do not collide.
int labelStep(int count, double pixels, double labelPixels)
{
    int step = 1;
    while (step < count && pixels * step / std::max(count, 1) < labelPixels)
        step *= 2;
    return step;
}

// What source rank s would send to each rank were its assignments spread evenly.
double evenShare(const AllToAll &a, int s)
{
    double row = 0;
    for (int d = 0; d < a.ranks; ++d)
        row += a.at(s, d);
    return row / a.ranks;
}

void drawPanelTitle(QPainter &p, const QRectF &r, const QString &text)
{
    QFont f = chartFont(8.5);
    f.setBold(true);
    p.setFont(f);
    p.setPen(Qt::black);
    p.drawText(r, Qt::AlignLeft | Qt::AlignVCenter, text);
    p.setFont(chartFont());
}

void drawHeatmap(QPainter &p, const PlacementComparison &c, const QRectF &r, int selected)
{
    const int L = layerCount(c), R = c.request.after.ranks;
    const double cw = r.width() / L, ch = r.height() / R;
    QCPColorGradient gradient = PlotStyle::loadGradient(); // color() is not const
    const QCPRange range(-PlotStyle::kRatioRange, PlotStyle::kRatioRange);
    for (int l = 0; l < L; ++l) {
        const auto &load = c.after.layers[std::size_t(l)].rankLoad;
        const double mean = meanOf(load);
        for (int k = 0; k < R; ++k)
            p.fillRect(QRectF(r.left() + l * cw, r.top() + k * ch, cw + 0.5, ch + 0.5),
                       QColor(gradient.color(PlotStyle::ratioValue(load[std::size_t(k)], mean), range)));
    }
    p.setPen(QPen(LoadColours::selection(), 2));
    p.setBrush(Qt::NoBrush);
    p.drawRect(QRectF(r.left() + selected * cw, r.top(), cw, r.height()));
    p.setPen(Qt::black);
    const QFontMetricsF fm(chartFont());
    const int rankStep = labelStep(R, r.height(), fm.height());
    for (int k = 0; k < R; k += rankStep)
        p.drawText(QRectF(r.left() - 50, r.top() + k * ch, 46, ch), Qt::AlignRight | Qt::AlignVCenter,
                   QObject::tr("rank %1").arg(k));
    const int layerStep = labelStep(L, r.width(), fm.horizontalAdvance(QStringLiteral("000")) + 6);
    for (int l = 0; l < L; l += layerStep)
        p.drawText(QRectF(r.left() + l * cw - 20, r.bottom() + 2, cw + 40, fm.height()), Qt::AlignHCenter | Qt::AlignTop,
                   QString::fromStdString(c.after.names[std::size_t(l)]));
}

void drawBars(QPainter &p, const PlacementComparison &c, const QRectF &r, int layer, int expert)
{
    const LayerPlacementFigures &f = c.after.layers[std::size_t(layer)];
    const auto &load = c.loads[std::size_t(layer)];
    const int R = f.placement.ranks, per = f.placement.slotsPerRank();
    const double mean = meanOf(f.rankLoad);
    const double top = std::max({*std::max_element(f.rankLoad.begin(), f.rankLoad.end()), mean, 1.0}) * 1.08;
    const double slotW = r.width() / R;
    const ExpertPalette palette(c.numExperts);
    auto y = [&](double v) { return r.bottom() - v / top * r.height(); };
    QList<QRectF> selected;
    for (int k = 0; k < R; ++k) {
        double base = 0;
        for (int j = 0; j < per; ++j) {
            const int e = f.placement.slotExpert[std::size_t(k * per + j)];
            const double h = load[std::size_t(e)] / f.placement.replicas[std::size_t(e)];
            const QRectF seg(r.left() + k * slotW + slotW * 0.1, y(base + h), slotW * 0.8, y(base) - y(base + h));
            p.fillRect(seg, palette.colour(e));
            p.setPen(QPen(Qt::white, 0.5));
            p.drawLine(seg.bottomLeft(), seg.bottomRight());
            if (e == expert)
                selected << seg;
            base += h;
        }
    }
    p.setPen(QPen(LoadColours::selection(), 2));
    p.setBrush(Qt::NoBrush);
    for (const QRectF &seg : selected)
        p.drawRect(seg);
    p.setPen(QPen(Qt::black, 1, Qt::DashLine));
    p.drawLine(QPointF(r.left(), y(mean)), QPointF(r.right(), y(mean)));
    p.setPen(Qt::black);
    p.drawLine(r.bottomLeft(), r.bottomRight());
    const QFontMetricsF fm(chartFont());
    p.drawText(QRectF(r.left() - 50, y(mean) - fm.height() / 2, 46, fm.height()), Qt::AlignRight | Qt::AlignVCenter,
               QObject::tr("mean"));
    p.drawText(QRectF(r.left() - 50, r.top() - fm.height() / 2, 46, fm.height()), Qt::AlignRight | Qt::AlignVCenter,
               formatCount(std::int64_t(std::llround(top))));
    const int step = labelStep(R, r.width(), fm.horizontalAdvance(QStringLiteral("00")) + 6);
    for (int k = 0; k < R; k += step)
        p.drawText(QRectF(r.left() + k * slotW, r.bottom() + 2, slotW, fm.height()), Qt::AlignHCenter | Qt::AlignTop,
                   QString::number(k));
}

void drawMatrix(QPainter &p, const PlacementComparison &c, const QRectF &r, int layer)
{
    const LayerPlacementFigures &f = c.after.layers[std::size_t(layer)];
    if (!f.allToAll) {
        p.drawText(r, Qt::AlignCenter | Qt::TextWordWrap,
                   QObject::tr("The all-to-all needs each token's choices; this dump holds only the load."));
        return;
    }
    const AllToAll &a = *f.allToAll;
    const int R = a.ranks;
    const double cell = r.width() / R;
    // Coloured like the heatmap: each cell against an even spread of its source's
    // assignments over the ranks, so a balanced exchange is neutral and a rank that
    // draws more than its share stands out in red whatever the volume.
    QCPColorGradient gradient = PlotStyle::loadGradient();
    const QCPRange range(-PlotStyle::kRatioRange, PlotStyle::kRatioRange);
    for (int s = 0; s < R; ++s)
        for (int d = 0; d < R; ++d)
            p.fillRect(QRectF(r.left() + d * cell, r.top() + s * cell, cell + 0.5, cell + 0.5),
                       QColor(gradient.color(PlotStyle::ratioValue(a.at(s, d), evenShare(a, s)), range)));
    p.setPen(QPen(QColor(0x99, 0x99, 0x99), 0.8));
    p.setBrush(Qt::NoBrush);
    p.drawRect(r);
    p.setPen(Qt::black);
    const QFontMetricsF fm(chartFont());
    const int step = labelStep(R, r.width(), fm.height() + 2);
    for (int k = 0; k < R; k += step) {
        p.drawText(QRectF(r.left() - 50, r.top() + k * cell, 46, cell), Qt::AlignRight | Qt::AlignVCenter,
                   QObject::tr("from %1").arg(k));
        p.drawText(QRectF(r.left() + k * cell - 10, r.bottom() + 2, cell + 20, fm.height()),
                   Qt::AlignHCenter | Qt::AlignTop, QString::number(k));
    }
}

void drawCompare(QPainter &p, const PlacementComparison &c, const QRectF &r, int layer)
{
    const int L = layerCount(c);
    double top = 1.0;
    for (const auto *m : {&c.before, &c.after})
        for (const auto &f : m->layers)
            if (std::isfinite(f.straggler))
                top = std::max(top, f.straggler);
    top = 1.0 + (top - 1.0) * 1.1 + 0.05;
    auto x = [&](int l) { return L <= 1 ? r.center().x() : r.left() + r.width() * l / (L - 1); };
    auto y = [&](double v) { return r.bottom() - (v - 1.0) / (top - 1.0) * r.height(); };
    p.setPen(QPen(QColor(0xcc, 0xcc, 0xcc), 1));
    p.drawLine(QPointF(r.left(), y(1.0)), QPointF(r.right(), y(1.0)));
    p.setPen(QPen(LoadColours::selection(), 1.5, Qt::DotLine));
    p.drawLine(QPointF(x(layer), r.top()), QPointF(x(layer), r.bottom()));
    const QColor colours[2] = {QColor(0x99, 0x33, 0x22), QColor(0x1f, 0x5f, 0xa8)};
    const ModelPlacement *models[2] = {&c.before, &c.after};
    const QFontMetricsF fm(chartFont());
    for (int i = 0; i < 2; ++i) {
        QPolygonF line;
        for (int l = 0; l < L; ++l)
            if (std::isfinite(models[i]->layers[std::size_t(l)].straggler))
                line << QPointF(x(l), y(models[i]->layers[std::size_t(l)].straggler));
        p.setPen(QPen(colours[i], 2));
        p.drawPolyline(line);
        p.setBrush(colours[i]);
        for (const QPointF &pt : line)
            p.drawEllipse(pt, 2.2, 2.2);
        p.setBrush(Qt::NoBrush);
        const PlacementSettings &s = i == 0 ? c.request.before : c.request.after;
        const QString text = QObject::tr("%1 %2: model %3")
                                 .arg(i == 0 ? QObject::tr("before") : QObject::tr("after"),
                                      placementTitle(s, c.numExperts), formatNumber(models[i]->modelStraggler, 3));
        const QPointF at(r.left() + 6, r.top() + 4 + i * (fm.height() + 2));
        p.drawLine(at + QPointF(0, fm.height() / 2), at + QPointF(14, fm.height() / 2));
        p.setPen(Qt::black);
        p.drawText(QRectF(at + QPointF(18, 0), QSizeF(r.width() - 24, fm.height())), Qt::AlignLeft | Qt::AlignVCenter, text);
    }
    p.setPen(Qt::black);
    p.drawLine(r.bottomLeft(), r.bottomRight());
    p.drawLine(r.bottomLeft(), r.topLeft());
    p.drawText(QRectF(r.left() - 50, y(1.0) - fm.height() / 2, 46, fm.height()), Qt::AlignRight | Qt::AlignVCenter,
               QStringLiteral("1"));
    p.drawText(QRectF(r.left() - 50, r.top() - fm.height() / 2, 46, fm.height()), Qt::AlignRight | Qt::AlignVCenter,
               formatNumber(top, 2));
    const int step = labelStep(L, r.width(), fm.horizontalAdvance(QStringLiteral("000")) + 6);
    for (int l = 0; l < L; l += step)
        p.drawText(QRectF(x(l) - 20, r.bottom() + 2, 40, fm.height()), Qt::AlignHCenter | Qt::AlignTop,
                   QString::fromStdString(c.after.names[std::size_t(l)]));
}
} // namespace

void renderPlacement(const PlacementParameters &parameters, QPainter &p, const QSize &size)
{
    p.save();
    p.fillRect(QRect(QPoint(0, 0), size), Qt::white);
    p.setFont(chartFont());
    if (!parameters.data || layerCount(*parameters.data) == 0) {
        p.drawText(QRect(QPoint(0, 0), size), Qt::AlignCenter, QObject::tr("Nothing to show."));
        p.restore();
        return;
    }
    const PlacementComparison &c = *parameters.data;
    const int layer = clampedLayer(parameters);
    const Layout l = layoutFor(size);
    const LayerPlacementFigures &f = c.after.layers[std::size_t(layer)];
    const QString name = QString::fromStdString(c.after.names[std::size_t(layer)]);
    QFont titleFont = chartFont(10);
    titleFont.setBold(true);
    p.setFont(titleFont);
    p.drawText(l.title, Qt::AlignLeft | Qt::AlignTop,
               QObject::tr("Expert parallelism on %1 ranks: %2 (after) vs %3 (before)")
                   .arg(c.request.after.ranks)
                   .arg(placementTitle(c.request.after, c.numExperts), placementTitle(c.request.before, c.numExperts)));
    p.setFont(chartFont());
    p.drawText(l.title, Qt::AlignLeft | Qt::AlignBottom,
               QObject::tr("Layer %1: straggler %2 (before %3) \u00b7 dropped at CF %4: %5 per expert, %6 pooled per rank")
                   .arg(name, formatNumber(f.straggler, 3),
                        formatNumber(c.before.layers[std::size_t(layer)].straggler, 3),
                        formatNumber(c.after.capacityFactor, 2), formatPercent(f.droppedFraction, 2),
                        formatPercent(f.rankPooledDroppedFraction, 2)));
    drawPanelTitle(p, l.heatTitle, QObject::tr("Rank load / mean, every layer (after); blue below, red above"));
    drawHeatmap(p, c, l.heat, layer);
    drawPanelTitle(p, l.barsTitle, QObject::tr("Layer %1: each rank's experts stacked (after)").arg(name));
    drawBars(p, c, l.bars, layer, parameters.expert);
    drawPanelTitle(p, l.matrixTitle,
                   f.allToAll ? QObject::tr("All-to-all, layer %1: %2 leave their rank (colour: vs an even spread)")
                                    .arg(name, formatPercent(f.allToAll->leavingShare, 1))
                              : QObject::tr("All-to-all, layer %1").arg(name));
    drawMatrix(p, c, l.matrix, layer);
    drawPanelTitle(p, l.compareTitle, QObject::tr("Straggler factor per layer (1 = even)"));
    drawCompare(p, c, l.compare, layer);
    p.restore();
}

PlacementHit placementHitAt(const PlacementParameters &parameters, const QSize &size, const QPointF &pos)
{
    PlacementHit hit;
    if (!parameters.data || layerCount(*parameters.data) == 0)
        return hit;
    const PlacementComparison &c = *parameters.data;
    const Layout l = layoutFor(size);
    const int L = layerCount(c), R = c.request.after.ranks, layer = clampedLayer(parameters);
    if (l.heat.contains(pos)) {
        hit.kind = PlacementHit::HeatCell;
        hit.layer = std::clamp(int((pos.x() - l.heat.left()) / l.heat.width() * L), 0, L - 1);
        hit.rank = std::clamp(int((pos.y() - l.heat.top()) / l.heat.height() * R), 0, R - 1);
        return hit;
    }
    const LayerPlacementFigures &f = c.after.layers[std::size_t(layer)];
    if (l.bars.contains(pos)) {
        const int k = std::clamp(int((pos.x() - l.bars.left()) / l.bars.width() * R), 0, R - 1);
        const auto &load = c.loads[std::size_t(layer)];
        const double mean = meanOf(f.rankLoad);
        const double top = std::max({*std::max_element(f.rankLoad.begin(), f.rankLoad.end()), mean, 1.0}) * 1.08;
        const double v = (l.bars.bottom() - pos.y()) / l.bars.height() * top;
        const int per = f.placement.slotsPerRank();
        double base = 0;
        for (int j = 0; j < per; ++j) {
            const int slot = k * per + j, e = f.placement.slotExpert[std::size_t(slot)];
            const double h = load[std::size_t(e)] / f.placement.replicas[std::size_t(e)];
            if (v >= base && v < base + h) {
                hit.kind = PlacementHit::Segment;
                hit.layer = layer;
                hit.rank = k;
                hit.expert = e;
                for (int s = 0; s < slot; ++s)
                    hit.replica += f.placement.slotExpert[std::size_t(s)] == e;
                return hit;
            }
            base += h;
        }
        return hit;
    }
    if (l.matrix.contains(pos) && f.allToAll) {
        hit.kind = PlacementHit::MatrixCell;
        hit.layer = layer;
        hit.rank = std::clamp(int((pos.y() - l.matrix.top()) / l.matrix.height() * R), 0, R - 1);
        hit.dest = std::clamp(int((pos.x() - l.matrix.left()) / l.matrix.width() * R), 0, R - 1);
        return hit;
    }
    if (l.compare.contains(pos)) {
        hit.kind = PlacementHit::CompareLayer;
        hit.layer = L <= 1 ? 0 : std::clamp(int(std::lround((pos.x() - l.compare.left()) / l.compare.width() * (L - 1))), 0, L - 1);
    }
    return hit;
}

QString placementToolTip(const PlacementParameters &parameters, const PlacementHit &hit)
{
    if (!parameters.data || hit.kind == PlacementHit::None)
        return {};
    const PlacementComparison &c = *parameters.data;
    const auto name = [&](int layer) { return QString::fromStdString(c.after.names[std::size_t(layer)]); };
    const LayerPlacementFigures &f = c.after.layers[std::size_t(std::max(hit.layer, 0))];
    switch (hit.kind) {
    case PlacementHit::HeatCell: {
        const double mean = meanOf(f.rankLoad);
        return QObject::tr("Layer %1, rank %2: %3 assignments, %4x the mean\nClick: select layer %1")
            .arg(name(hit.layer))
            .arg(hit.rank)
            .arg(formatNumber(f.rankLoad[std::size_t(hit.rank)], 1), formatNumber(f.rankLoad[std::size_t(hit.rank)] / mean, 2));
    }
    case PlacementHit::Segment: {
        const int e = hit.expert, n = f.placement.replicas[std::size_t(e)];
        QStringList ranks;
        for (int r : f.placement.ranksOf(e))
            ranks << QString::number(r);
        const double load = c.loads[std::size_t(hit.layer)][std::size_t(e)];
        return QObject::tr("Expert %1 on rank %2 (layer %3)\nreplica %4 of %5, on ranks %6\n%7 of its %8 tokens here"
                           "\nClick: select expert %1")
            .arg(e)
            .arg(hit.rank)
            .arg(name(hit.layer))
            .arg(hit.replica + 1)
            .arg(n)
            .arg(ranks.join(QStringLiteral(", ")), formatNumber(load / n, 1), formatNumber(load, 0));
    }
    case PlacementHit::MatrixCell:
        return QObject::tr("Layer %1: %2 assignments from tokens on rank %3 to experts on rank %4\n"
                           "%5x an even spread of rank %3's assignments")
            .arg(name(hit.layer), formatNumber(f.allToAll->at(hit.rank, hit.dest), 1))
            .arg(hit.rank)
            .arg(hit.dest)
            .arg(formatNumber(f.allToAll->at(hit.rank, hit.dest) / evenShare(*f.allToAll, hit.rank), 2));
    case PlacementHit::CompareLayer:
        return QObject::tr("Layer %1: straggler %2 before, %3 after\nClick: select layer %1")
            .arg(name(hit.layer), formatNumber(c.before.layers[std::size_t(hit.layer)].straggler, 3),
                 formatNumber(c.after.layers[std::size_t(hit.layer)].straggler, 3));
    case PlacementHit::None: break;
    }
    return {};
}

void writePlacementCsv(const PlacementParameters &parameters, QTextStream &out)
{
    writeCsvRow(out, {"policy", "layer", "rank", "load", "relative_to_mean", "experts"});
    if (!parameters.data)
        return;
    const PlacementComparison &c = *parameters.data;
    for (const auto &[label, model] : {std::pair{"before", &c.before}, std::pair{"after", &c.after}}) {
        for (std::size_t l = 0; l < model->layers.size(); ++l) {
            const LayerPlacementFigures &f = model->layers[l];
            const double mean = meanOf(f.rankLoad);
            const int per = f.placement.slotsPerRank();
            for (int k = 0; k < f.placement.ranks; ++k) {
                QStringList experts;
                for (int j = 0; j < per; ++j)
                    experts << QString::number(f.placement.slotExpert[std::size_t(k * per + j)]);
                writeCsvRow(out, {QString::fromLatin1(label), QString::number(l), QString::number(k),
                                  csvNumber(f.rankLoad[std::size_t(k)]), csvNumber(f.rankLoad[std::size_t(k)] / mean),
                                  experts.join(u' ')});
            }
        }
    }
}

} // namespace moescope::ui
