#include "RoutingMapPainter.h"

#include "Format.h"

#include <QPaintEngine>
#include <QPainter>

#include <algorithm>
#include <cmath>

namespace moescope::ui {

namespace {
constexpr double kGridPixelsPerToken = 5.0;    // cell separators from this zoom on
constexpr int kLegendHeight = 22;
const QColor kBackground(0xfa, 0xfa, 0xfa);

// 1, 2, 5 x 10^n: the smallest step at least `minimum`.
std::int64_t niceStep(double minimum)
{
    double base = 1;
    while (base * 10 <= minimum)
        base *= 10;
    for (double m : {1.0, 2.0, 5.0, 10.0})
        if (base * m >= minimum)
            return std::int64_t(base * m);
    return std::int64_t(base * 10);
}

QColor mix(const QColor &a, const QColor &b, double t)
{
    return QColor::fromRgbF(float(a.redF() * (1 - t) + b.redF() * t), float(a.greenF() * (1 - t) + b.greenF() * t),
                            float(a.blueF() * (1 - t) + b.blueF() * t));
}


using Layout = RoutingMapPainter::Layout;

void paintCells(QPainter &p, const RoutingMapScene &scene, const Layout &lay);
void paintHeader(QPainter &p, const RoutingMapScene &scene, const Layout &lay);
void paintLegend(QPainter &p, const RoutingMapScene &scene, const Layout &lay);
} // namespace

std::int64_t RoutingMapPainter::sequenceLength(const DumpSnapshot *snapshot, std::int64_t sequence)
{
    return snapshot ? snapshot->sequenceEnd(sequence) - snapshot->sequenceBegin(sequence) : 0;
}

RoutingMapPainter::Layout RoutingMapPainter::layout(const DumpSnapshot *snapshot, const QFont &font, const QSize &size,
                                                    double ppt, bool withTitle)
{
    Layout lay;
    const QFontMetrics fm(font);
    int labelWidth = fm.horizontalAdvance(QStringLiteral("layer"));
    if (snapshot)
        for (int l = 0; l < snapshot->numLayers(); ++l)
            labelWidth = std::max(labelWidth, fm.horizontalAdvance(snapshot->layerName(l)));
    labelWidth = std::min(labelWidth + 16, 160);
    const int titleHeight = withTitle ? fm.height() + 10 : 0;
    const int headerHeight = ppt >= kTextPixelsPerToken ? std::min(90, 8 * fm.averageCharWidth() + 12) : fm.height() + 8;
    lay.title = QRect(0, 0, size.width(), titleHeight);
    lay.header = QRect(labelWidth, titleHeight, size.width() - labelWidth - 8, headerHeight);
    lay.legend = QRect(0, size.height() - kLegendHeight, size.width(), kLegendHeight);
    lay.map = QRect(labelWidth, lay.header.bottom() + 1, lay.header.width(),
                    std::max(1, lay.legend.top() - 4 - lay.header.bottom() - 1));
    lay.labels = QRect(0, lay.map.top(), labelWidth, lay.map.height());
    lay.rowHeight = snapshot && snapshot->numLayers() ? double(lay.map.height()) / snapshot->numLayers() : 0;
    return lay;
}

void RoutingMapPainter::paint(QPainter &p, const RoutingMapScene &scene, const QSize &size)
{
    const DumpSnapshot *snapshot = scene.snapshot;
    const Selection &selection = scene.selection;
    const QFont &font = scene.font;
    const double begin = scene.begin, ppt = scene.pixelsPerToken;
    p.fillRect(QRect(QPoint(0, 0), size), Qt::white);
    if (!snapshot) {
        p.setPen(QColor(0x77, 0x77, 0x77));
        p.drawText(QRect(QPoint(0, 0), size), Qt::AlignCenter,
                   scene.emptyText.isEmpty() ? tr("No dump loaded") : scene.emptyText);
        return;
    }
    const Layout lay = layout(scene, size);
    if (scene.withTitle) {
        QFont bold = font;
        bold.setBold(true);
        p.setFont(bold);
        p.setPen(Qt::black);
        const std::int64_t sequence = scene.sequence;
        const std::int64_t n = sequenceLength(snapshot, sequence);
        const std::int64_t first = std::int64_t(begin), last = std::min<std::int64_t>(n, std::int64_t(std::ceil(begin + lay.map.width() / ppt)));
        QString label = snapshot->sequenceLabel(sequence);
        p.drawText(lay.title.adjusted(8, 0, -8, 0), Qt::AlignLeft | Qt::AlignVCenter,
                   tr("Routing map: sequence %1%2, positions %3 to %4 of %5; colour = best expert")
                       .arg(sequence)
                       .arg(label.isEmpty() ? QString() : QStringLiteral(" (%1)").arg(label))
                       .arg(formatCount(first), formatCount(std::max<std::int64_t>(first, last - 1)), formatCount(n)));
        p.setFont(font);
    }
    p.fillRect(lay.map, kBackground);
    if (scene.window) {
        paintCells(p, scene, lay);
    } else {
        // The first window of a dump whose layers are read on demand takes a while.
        p.setPen(QColor(110, 110, 110));
        p.drawText(lay.map, Qt::AlignCenter, tr("Reading the layers' choices..."));
    }
    paintHeader(p, scene, lay);

    // Layer labels; the selected layer bold with a marker.
    const int L = snapshot->numLayers();
    const QFontMetrics fm(font);
    const int labelStep = std::max(1, int(std::ceil(fm.height() / std::max(lay.rowHeight, 0.1))));
    for (int l = 0; l < L; ++l) {
        const bool selected = l == selection.layer;
        const bool nearSelected = selection.layer >= 0 && std::abs(l - selection.layer) < labelStep;
        if (!selected && (l % labelStep != 0 || nearSelected))
            continue;
        const QRectF row(lay.labels.left(), lay.map.top() + l * lay.rowHeight, lay.labels.width() - 6, lay.rowHeight);
        QFont f = font;
        f.setBold(selected);
        p.setFont(f);
        p.setPen(selected ? Qt::black : QColor(0x55, 0x55, 0x55));
        p.drawText(row.adjusted(0, -fm.height(), 0, fm.height()), Qt::AlignRight | Qt::AlignVCenter,
                   snapshot->layerName(l));
    }
    p.setFont(font);
    if (selection.layer >= 0 && selection.layer < L) {
        const QRectF row(lay.map.left(), lay.map.top() + selection.layer * lay.rowHeight, lay.map.width(),
                         lay.rowHeight);
        p.setPen(QPen(QColor(0, 0, 0, 140), 1));
        p.setBrush(Qt::NoBrush);
        p.drawRect(row.adjusted(-0.5, -0.5, 0.5, 0.5));
    }
    // The selected position: a frame around its column.
    const std::int64_t seqBegin = snapshot->sequenceBegin(scene.sequence);
    if (selection.position >= seqBegin && selection.position < snapshot->sequenceEnd(scene.sequence)) {
        const double x = lay.map.left() + (double(selection.position - seqBegin) - begin) * ppt;
        if (x + ppt >= lay.map.left() && x <= lay.map.right()) {
            p.setPen(QPen(LoadColours::selection(), 2));
            p.setBrush(Qt::NoBrush);
            p.drawRect(QRectF(x - 1, lay.header.top() + 1, std::max(ppt, 1.0) + 2,
                              lay.map.bottom() - lay.header.top()));
        }
    }
    paintLegend(p, scene, lay);
}

namespace {
void paintCells(QPainter &p, const RoutingMapScene &scene, const Layout &lay)
{
    const DumpSnapshot *snapshot = scene.snapshot;
    const ExpertPalette &palette = *scene.palette;
    const RoutingWindow &w = *scene.window;
    const double begin = scene.begin, ppt = scene.pixelsPerToken;
    const std::int64_t seqBegin = snapshot->sequenceBegin(scene.sequence);
    const int highlighted = scene.selection.expert;
    const bool dim = scene.dimOthers && highlighted >= 0;
    const QColor selected = ExpertPalette::emphasised(palette.colour(highlighted));
    // Colours per expert, made once: a window may hold millions of cells.
    const int E = snapshot->numExperts();
    std::vector<QRgb> full(std::size_t(E) + 1), faded(std::size_t(E) + 1);
    for (int e = -1; e < E; ++e) {
        full[std::size_t(e + 1)] = palette.colour(e).rgb();
        faded[std::size_t(e + 1)] = ExpertPalette::dimmed(palette.colour(e)).rgb();
    }
    auto cellColour = [&](int l, int c) -> QRgb {
        const std::size_t e = std::size_t(w.expertAt(l, c) + 1);
        if (!dim)
            return full[e];
        // Where the selected expert was chosen (in any slot) the cell takes its
        // colour; elsewhere the best expert's colour, faded.
        const int h = w.highlightAt(l, c);
        return h == 0 ? faded[e] : h >= 255 ? selected.rgb() : mix(QColor(faded[e]), selected, 0.45 + 0.55 * h / 255.0).rgb();
    };
    p.save();
    p.setClipRect(lay.map);
    p.setPen(Qt::NoPen);
    p.setRenderHint(QPainter::Antialiasing, false);
    std::vector<int> xs(std::size_t(w.columns) + 1);
    for (int c = 0; c <= w.columns; ++c)
        xs[std::size_t(c)] = lay.map.left() + int(std::lround((double(w.first(c) - seqBegin) - begin) * ppt));
    const QPaintEngine *engine = p.paintEngine();
    const bool vector = engine && (engine->type() == QPaintEngine::SVG || engine->type() == QPaintEngine::Pdf ||
                                   engine->type() == QPaintEngine::Picture);
    if (!vector) {
        // Raster targets (screen, PNG): one pixel per cell, scaled up without smoothing,
        // so cells keep hard edges and the whole map is a single draw call.
        QImage cells(w.columns, w.layers, QImage::Format_RGB32);
        for (int l = 0; l < w.layers; ++l) {
            auto *line = reinterpret_cast<QRgb *>(cells.scanLine(l));
            for (int c = 0; c < w.columns; ++c)
                line[c] = cellColour(l, c);
        }
        p.setRenderHint(QPainter::SmoothPixmapTransform, false);
        p.drawImage(QRectF(xs.front(), lay.map.top(), xs.back() - xs.front(), lay.map.height()), cells);
    } else {
        for (int l = 0; l < w.layers; ++l) {
            const int y0 = lay.map.top() + int(std::lround(l * lay.rowHeight));
            const int y1 = lay.map.top() + int(std::lround((l + 1) * lay.rowHeight));
            // Vector targets (SVG, PDF): runs of one colour become one rectangle, so
            // cell edges are exact at any zoom of the document.
            int runStart = xs[0];
            QRgb runColour = 0;
            for (int c = 0; c < w.columns; ++c) {
                const QRgb rgb = cellColour(l, c);
                if (c > 0 && rgb != runColour) {
                    p.fillRect(QRect(runStart, y0, xs[std::size_t(c)] - runStart, y1 - y0), QColor(runColour));
                    runStart = xs[std::size_t(c)];
                }
                runColour = rgb;
            }
            p.fillRect(QRect(runStart, y0, xs[std::size_t(w.columns)] - runStart, y1 - y0), QColor(runColour));
        }
    }
    // Separators once cells are wide enough to tell apart (same-colour neighbours).
    if (ppt >= kGridPixelsPerToken && w.columns == w.end - w.begin) {
        p.setPen(QPen(QColor(255, 255, 255, 170), 1));
        for (int c = 1; c < w.columns; ++c)
            p.drawLine(xs[std::size_t(c)], lay.map.top(), xs[std::size_t(c)], lay.map.bottom());
    }
    if (lay.rowHeight >= 6) {
        p.setPen(QPen(QColor(255, 255, 255, 170), 1));
        for (int l = 1; l < w.layers; ++l) {
            const int y = lay.map.top() + int(std::lround(l * lay.rowHeight));
            p.drawLine(lay.map.left(), y, lay.map.right(), y);
        }
    }
    p.restore();
}

void paintHeader(QPainter &p, const RoutingMapScene &scene, const Layout &lay)
{
    const DumpSnapshot *snapshot = scene.snapshot;
    const Selection &selection = scene.selection;
    const QFont &font = scene.font;
    const std::span<const std::int64_t> tokenPositions = scene.tokenPositions;
    const double begin = scene.begin, ppt = scene.pixelsPerToken;
    const std::int64_t seqBegin = snapshot->sequenceBegin(scene.sequence);
    const std::int64_t n = RoutingMapPainter::sequenceLength(snapshot, scene.sequence);
    const std::int64_t first = std::max<std::int64_t>(0, std::int64_t(std::floor(begin)));
    const std::int64_t last = std::min<std::int64_t>(n, std::int64_t(std::ceil(begin + lay.map.width() / ppt)));
    p.save();
    p.setClipRect(lay.header.adjusted(0, 0, 0, 1));
    const QFontMetrics fm(font);
    if (ppt >= RoutingMapPainter::kTextPixelsPerToken) {
        for (std::int64_t t = first; t < last; ++t) {
            const std::int64_t position = seqBegin + t;
            const double x = lay.map.left() + (double(t) - begin) * ppt;
            const bool isToken = selection.tokenId >= 0 && snapshot->analysis.tokenIds[std::size_t(position)] == selection.tokenId;
            QFont f = font;
            f.setBold(position == selection.position || isToken);
            p.setFont(f);
            p.setPen(isToken ? QColor(0x0b, 0x5c, 0xad) : QColor(0x22, 0x22, 0x22));
            const QString text = QFontMetrics(f).elidedText(snapshot->tokenDisplay(position), Qt::ElideRight,
                                                            lay.header.height() - 12);
            p.save();
            // Bottom-to-top text, centred on the column: reads with the head tilted left.
            p.translate(x + ppt / 2 + fm.ascent() / 2.0 - 1, lay.header.bottom() - 9);
            p.rotate(-90);
            p.drawText(0, 0, text);
            p.restore();
        }
    } else {
        const std::int64_t step = niceStep(90.0 / ppt);
        p.setPen(QColor(0x55, 0x55, 0x55));
        for (std::int64_t t = (first + step - 1) / step * step; t < last; t += step) {
            const double x = lay.map.left() + (double(t) - begin) * ppt;
            p.drawLine(QPointF(x, lay.header.bottom() - 4), QPointF(x, lay.header.bottom()));
            p.drawText(QPointF(x + 2, lay.header.bottom() - 5), formatCount(t));
        }
    }
    // Where the selected token id occurs: markers at the header's foot.
    if (!tokenPositions.empty()) {
        p.setPen(Qt::NoPen);
        p.setBrush(QColor(0x0b, 0x5c, 0xad));
        auto it = std::lower_bound(tokenPositions.begin(), tokenPositions.end(), seqBegin + first);
        double lastX = -10;
        for (; it != tokenPositions.end() && *it < seqBegin + last; ++it) {
            const double x = lay.map.left() + (double(*it - seqBegin) - begin + 0.5) * ppt;
            if (x - lastX < 2)
                continue;
            lastX = x;
            const QPointF tri[3] = {{x - 4, double(lay.header.bottom() - 6)}, {x + 4, double(lay.header.bottom() - 6)},
                                    {x, double(lay.header.bottom())}};
            p.drawPolygon(tri, 3);
        }
    }
    p.restore();
}

void paintLegend(QPainter &p, const RoutingMapScene &scene, const Layout &lay)
{
    const ExpertPalette &palette = *scene.palette;
    const Selection &selection = scene.selection;
    const QFont &font = scene.font;
    const int E = scene.snapshot->numExperts();
    const QFontMetrics fm(font);
    p.save();
    p.setPen(QColor(0x44, 0x44, 0x44));
    const QString caption = RoutingMapPainter::tr("best expert:");
    const int captionWidth = fm.horizontalAdvance(caption) + 8;
    p.drawText(QRect(lay.legend.left() + 4, lay.legend.top(), captionWidth, lay.legend.height()),
               Qt::AlignLeft | Qt::AlignVCenter, caption);
    const QString note = palette.repeats() ? RoutingMapPainter::tr("colours repeat every %1 experts").arg(ExpertPalette::kDistinctColours)
                                             : QString();
    const int noteWidth = note.isEmpty() ? 0 : fm.horizontalAdvance(note) + 12;
    const QRect strip(lay.legend.left() + 4 + captionWidth, lay.legend.top() + 3,
                      lay.legend.width() - captionWidth - noteWidth - 12, lay.legend.height() - 6);
    const double w = std::min(22.0, double(strip.width()) / E);
    const int labelEvery = std::max(1, int(std::ceil((fm.horizontalAdvance(QStringLiteral("000")) + 4) / w)));
    for (int e = 0; e < E; ++e) {
        const QRectF cell(strip.left() + e * w, strip.top(), std::max(w - (w > 4 ? 1 : 0), 1.0), strip.height());
        p.fillRect(cell, palette.colour(e));
        if (w >= 14 || e % labelEvery == 0) {
            const QColor c = palette.colour(e);
            p.setPen(c.lightnessF() > 0.6 ? QColor(0x20, 0x20, 0x20) : Qt::white);
            QFont small = font;
            small.setPointSizeF(std::max(6.5, font.pointSizeF() * 0.8));
            p.setFont(small);
            if (w >= 14)
                p.drawText(cell, Qt::AlignCenter, QString::number(e));
        }
    }
    if (selection.expert >= 0 && selection.expert < E) {
        p.setPen(QPen(LoadColours::selection(), 2));
        p.setBrush(Qt::NoBrush);
        p.drawRect(QRectF(strip.left() + selection.expert * w - 1, strip.top() - 2, std::max(w, 2.0) + 1,
                          strip.height() + 4));
    }
    if (!note.isEmpty()) {
        p.setFont(font);
        p.setPen(QColor(0x66, 0x66, 0x66));
        p.drawText(QRect(lay.legend.right() - noteWidth, lay.legend.top(), noteWidth, lay.legend.height()),
                   Qt::AlignLeft | Qt::AlignVCenter, note);
    }
    p.restore();
}
} // namespace

int RoutingMapPainter::legendExpertAt(const RoutingMapScene &scene, const QSize &size, const QPoint &pos)
{
    const DumpSnapshot *snapshot = scene.snapshot;
    if (!snapshot)
        return -1;
    const QFont &font = scene.font;
    const ExpertPalette &palette = *scene.palette;
    const Layout lay = layout(scene, size);
    if (!lay.legend.contains(pos))
        return -1;
    const QFontMetrics fm(font);
    const int captionWidth = fm.horizontalAdvance(tr("best expert:")) + 8;
    const QString note = palette.repeats() ? tr("colours repeat every %1 experts").arg(ExpertPalette::kDistinctColours)
                                             : QString();
    const int noteWidth = note.isEmpty() ? 0 : fm.horizontalAdvance(note) + 12;
    const int left = lay.legend.left() + 4 + captionWidth;
    const int width = lay.legend.width() - captionWidth - noteWidth - 12;
    const int E = snapshot->numExperts();
    const double w = std::min(22.0, double(width) / E);
    const int e = int(std::floor((pos.x() - left) / w));
    return e >= 0 && e < E ? e : -1;
}

} // namespace moescope::ui
