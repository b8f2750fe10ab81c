#include "RoutingMapCanvas.h"

#include "Format.h"
#include "JobSlot.h"
#include "analysis/TokenGates.h"
#include "export/Csv.h"

#include <QContextMenuEvent>
#include <QHelpEvent>
#include <QMenu>
#include <QPainter>
#include <QScrollBar>
#include <QTextStream>
#include <QToolTip>

#include <algorithm>
#include <cmath>

namespace moescope::ui {

namespace {
constexpr double kMaxPixelsPerToken = 64.0;
constexpr std::int64_t kSyncWork = 400'000; // positions x layers binned on the GUI thread (a few ms)
} // namespace

RoutingMapCanvas::RoutingMapCanvas(QWidget *parent)
    : QAbstractScrollArea(parent),
      m_windowJob(new JobSlot(tr("Routing map"), this)),
      m_gatesJob(new JobSlot(tr("Gate weights"), this))
{
    setHorizontalScrollBarPolicy(Qt::ScrollBarAlwaysOn);
    setVerticalScrollBarPolicy(Qt::ScrollBarAlwaysOff);
    setFocusPolicy(Qt::StrongFocus);
    viewport()->setMouseTracking(true);
    viewport()->setAutoFillBackground(false);
    setFrameShape(QFrame::NoFrame);
    setMinimumHeight(160);
    m_scene.font = font();
}

std::int64_t RoutingMapCanvas::sequenceLength() const { return m_scene.sequenceLength(); }

void RoutingMapCanvas::changeEvent(QEvent *event)
{
    if (event->type() == QEvent::FontChange)
        m_scene.font = font();
    QAbstractScrollArea::changeEvent(event);
}

void RoutingMapCanvas::setSnapshot(const DumpSnapshotPtr &snapshot)
{
    m_windowJob->cancel();
    m_scene.snapshot = snapshot;
    m_scene.palette = ExpertPalette(snapshot ? snapshot->numExperts() : 8);
    m_window.reset();
    m_scene.sequence = 0;
    m_scene.tokenPositions.clear();
    zoomToFit();
}

void RoutingMapCanvas::setSequence(std::int64_t sequence)
{
    if (!m_scene.snapshot || sequence < 0 || sequence >= m_scene.snapshot->numSequences() || sequence == m_scene.sequence)
        return;
    m_scene.sequence = sequence;
    m_window.reset();
    zoomToFit();
}

void RoutingMapCanvas::setSelection(const Selection &selection)
{
    const Selection previous = m_scene.selection;
    m_scene.selection = selection;
    if (!m_scene.snapshot) {
        viewport()->update();
        return;
    }
    if (selection.tokenId != previous.tokenId) {
        m_scene.tokenPositions.clear();
        if (selection.tokenId >= 0) {
            const auto &ids = m_scene.snapshot->analysis.tokenIds;
            for (std::size_t t = 0; t < ids.size(); ++t)
                if (ids[t] == selection.tokenId)
                    m_scene.tokenPositions.push_back(std::int64_t(t));
        }
    }
    // Follow a selection made elsewhere: show its position, or the first occurrence
    // of its token in this sequence when none is in view.
    const std::int64_t seqBegin = m_scene.snapshot->sequenceBegin(m_scene.sequence);
    if (selection.position >= 0 && selection.position != previous.position) {
        revealPosition(selection.position);
    } else if (selection.tokenId >= 0 && selection.tokenId != previous.tokenId) {
        const std::int64_t seqEnd = m_scene.snapshot->sequenceEnd(m_scene.sequence);
        const double viewFirst = seqBegin + m_viewBegin, viewLast = viewFirst + visibleTokens();
        const auto inView = std::lower_bound(m_scene.tokenPositions.begin(), m_scene.tokenPositions.end(), std::int64_t(viewFirst));
        const bool visible = inView != m_scene.tokenPositions.end() && double(*inView) < viewLast;
        const auto inSequence = std::lower_bound(m_scene.tokenPositions.begin(), m_scene.tokenPositions.end(), seqBegin);
        if (!visible && inSequence != m_scene.tokenPositions.end() && *inSequence < seqEnd)
            showRange(double(*inSequence - seqBegin) - visibleTokens() / 2, visibleTokens());
    }
    if (selection.expert != previous.expert)
        requestWindow();
    viewport()->update();
}

void RoutingMapCanvas::setDimOthers(bool dim)
{
    m_scene.dimOthers = dim;
    viewport()->update();
}

double RoutingMapCanvas::visibleTokens() const
{
    const RoutingMapPainter::Layout lay = m_scene.layout(viewport()->size(), m_pixelsPerToken, false);
    return std::min(double(sequenceLength()), lay.map.width() / m_pixelsPerToken);
}

double RoutingMapCanvas::minPixelsPerToken(int mapWidth) const
{
    const std::int64_t n = sequenceLength();
    return n > 0 ? std::min(kMaxPixelsPerToken, double(std::max(mapWidth, 1)) / double(n)) : 1.0;
}

void RoutingMapCanvas::clampView()
{
    const RoutingMapPainter::Layout lay = m_scene.layout(viewport()->size(), m_pixelsPerToken, false);
    m_pixelsPerToken = std::clamp(m_pixelsPerToken, minPixelsPerToken(lay.map.width()), kMaxPixelsPerToken);
    const double visible = lay.map.width() / m_pixelsPerToken;
    m_viewBegin = std::clamp(m_viewBegin, 0.0, std::max(0.0, double(sequenceLength()) - visible));
}

void RoutingMapCanvas::zoomToFit()
{
    m_viewBegin = 0;
    m_pixelsPerToken = 0; // clampView raises it to the fit
    m_fitted = true;
    clampView();
    viewMoved();
}

void RoutingMapCanvas::zoomBy(double factor, double anchorX)
{
    const RoutingMapPainter::Layout lay = m_scene.layout(viewport()->size(), m_pixelsPerToken, false);
    if (anchorX < 0)
        anchorX = lay.map.center().x();
    const double anchorToken = m_viewBegin + (anchorX - lay.map.left()) / m_pixelsPerToken;
    m_pixelsPerToken *= factor;
    clampView();
    // Keep the token under the anchor where it was.
    m_viewBegin = anchorToken - (anchorX - lay.map.left()) / m_pixelsPerToken;
    clampView();
    viewMoved();
}

void RoutingMapCanvas::showRange(double begin, double count)
{
    const RoutingMapPainter::Layout lay = m_scene.layout(viewport()->size(), m_pixelsPerToken, false);
    m_pixelsPerToken = lay.map.width() / std::max(1.0, count);
    clampView();
    m_viewBegin = begin;
    clampView();
    viewMoved();
}

void RoutingMapCanvas::revealPosition(std::int64_t position)
{
    if (!m_scene.snapshot || position < 0 || position >= m_scene.snapshot->analysis.numTokens())
        return;
    const std::int64_t sequence = m_scene.snapshot->analysis.sequenceOf(position);
    if (sequence != m_scene.sequence)
        setSequence(sequence);
    const double rel = double(position - m_scene.snapshot->sequenceBegin(m_scene.sequence));
    const double visible = visibleTokens();
    if (rel >= m_viewBegin && rel < m_viewBegin + visible)
        return;
    showRange(rel - visible / 2, visible);
}

void RoutingMapCanvas::syncScrollBar()
{
    const RoutingMapPainter::Layout lay = m_scene.layout(viewport()->size(), m_pixelsPerToken, false);
    const double content = double(sequenceLength()) * m_pixelsPerToken;
    const double unit = std::max(1.0, content / 1e9); // scroll bar values are ints
    m_updatingScrollBar = true;
    QScrollBar *bar = horizontalScrollBar();
    bar->setRange(0, int(std::max(0.0, (content - lay.map.width()) / unit)));
    bar->setPageStep(int(std::max(1.0, lay.map.width() / unit)));
    bar->setSingleStep(int(std::max(1.0, std::max(m_pixelsPerToken, 20.0) / unit)));
    bar->setValue(int(std::lround(m_viewBegin * m_pixelsPerToken / unit)));
    m_updatingScrollBar = false;
}

void RoutingMapCanvas::scrollContentsBy(int, int)
{
    if (m_updatingScrollBar)
        return;
    const double content = double(sequenceLength()) * m_pixelsPerToken;
    const double unit = std::max(1.0, content / 1e9);
    m_viewBegin = horizontalScrollBar()->value() * unit / m_pixelsPerToken;
    clampView();
    requestWindow();
    viewport()->update();
    emit viewChanged();
}

void RoutingMapCanvas::viewMoved()
{
    const RoutingMapPainter::Layout lay = m_scene.layout(viewport()->size(), m_pixelsPerToken, false);
    m_fitted = m_viewBegin <= 0 && double(sequenceLength()) * m_pixelsPerToken <= lay.map.width() + 0.5;
    syncScrollBar();
    requestWindow();
    viewport()->update();
    emit viewChanged();
}

void RoutingMapCanvas::resizeEvent(QResizeEvent *event)
{
    QAbstractScrollArea::resizeEvent(event);
    // A fitted view stays fitted; a zoomed one keeps its zoom and start.
    if (m_fitted)
        m_pixelsPerToken = 0;
    clampView();
    viewMoved();
}

RoutingWindowRequest RoutingMapCanvas::windowRequest(double begin, double ppt, int mapWidth) const
{
    RoutingWindowRequest r;
    const std::int64_t n = sequenceLength();
    const std::int64_t seqBegin = m_scene.snapshot->sequenceBegin(m_scene.sequence);
    std::int64_t first = std::clamp<std::int64_t>(std::int64_t(std::floor(begin)), 0, n);
    std::int64_t last = std::clamp<std::int64_t>(std::int64_t(std::ceil(begin + mapWidth / ppt)) + 1, first, n);
    int columns = std::max(1, mapWidth);
    if (last - first > columns) {
        // Bins on a fixed grid, so scrolling moves whole bins and the colours hold still.
        const std::int64_t bin = (last - first + columns - 1) / columns;
        first = first / bin * bin;
        columns = int((last - first + bin - 1) / bin);
        last = std::min(n, first + std::int64_t(columns) * bin);
        columns = int((last - first + bin - 1) / bin);
    }
    r.begin = seqBegin + first;
    r.end = seqBegin + last;
    r.columns = std::max(1, columns);
    r.highlightExpert = m_scene.selection.expert;
    return r;
}

RoutingWindow RoutingMapCanvas::computeWindow(const RoutingWindowRequest &request) const
{
    std::vector<const LayerChoices *> layers;
    for (const LayerPass &pass : m_scene.snapshot->analysis.passes)
        layers.push_back(&pass.choices);
    return binRoutingWindow(layers, request);
}

void RoutingMapCanvas::requestWindow()
{
    if (!m_scene.snapshot || sequenceLength() == 0)
        return;
    const RoutingMapPainter::Layout lay = m_scene.layout(viewport()->size(), m_pixelsPerToken, false);
    const RoutingWindowRequest r = windowRequest(m_viewBegin, m_pixelsPerToken, lay.map.width());
    auto same = [](const RoutingWindowRequest &a, const RoutingWindowRequest &b) {
        return a.begin == b.begin && a.end == b.end && a.columns == b.columns && a.highlightExpert == b.highlightExpert;
    };
    if (m_window && same(r, m_windowRequest))
        return;
    if (m_windowPending && same(r, m_windowRequest))
        return;
    m_windowRequest = r;
    const std::int64_t work = (r.end - r.begin) * m_scene.snapshot->numLayers();
    if (work <= kSyncWork) {
        m_windowJob->cancel();
        m_windowPending = false;
        m_window = computeWindow(r);
        return;
    }
    m_windowPending = true;
    const DumpSnapshotPtr snapshot = m_scene.snapshot;
    m_windowJob->start<RoutingWindow>(
        [snapshot, r](const Progress &progress) {
            std::vector<const LayerChoices *> layers;
            for (const LayerPass &pass : snapshot->analysis.passes)
                layers.push_back(&pass.choices);
            return binRoutingWindow(layers, r, progress);
        },
        [this, snapshot](RoutingWindow window) {
            if (snapshot != m_scene.snapshot)
                return;
            m_windowPending = false;
            m_window = std::move(window);
            viewport()->update();
        });
}

void RoutingMapCanvas::paintEvent(QPaintEvent *)
{
    QPainter p(viewport());
    m_scene.paint(p, viewport()->size(), m_viewBegin, m_pixelsPerToken, m_window ? &*m_window : nullptr, false);
}

bool RoutingMapCanvas::cellAt(const QPoint &pos, std::int64_t &position, int &layer) const
{
    if (!m_scene.snapshot || sequenceLength() == 0)
        return false;
    const RoutingMapPainter::Layout lay = m_scene.layout(viewport()->size(), m_pixelsPerToken, false);
    if (!lay.map.contains(pos) || lay.rowHeight <= 0)
        return false;
    const double rel = m_viewBegin + (pos.x() - lay.map.left()) / m_pixelsPerToken;
    const std::int64_t t = std::int64_t(std::floor(rel));
    layer = std::clamp(int((pos.y() - lay.map.top()) / lay.rowHeight), 0, m_scene.snapshot->numLayers() - 1);
    if (t < 0 || t >= sequenceLength())
        return false;
    position = m_scene.snapshot->sequenceBegin(m_scene.sequence) + t;
    return true;
}

QString RoutingMapCanvas::cellToolTip(std::int64_t position, int layer) const
{
    const auto &a = m_scene.snapshot->analysis;
    const std::int64_t seqBegin = m_scene.snapshot->sequenceBegin(m_scene.sequence);
    const LayerChoices &c = a.passes[std::size_t(layer)].choices;
    QString experts;
    if (!c.valid[std::size_t(position)]) {
        experts = tr("invalid token (NaN or infinite logits)");
    } else {
        QStringList ids;
        for (int j = 0; j < c.topK; ++j)
            ids << QString::number(c.ids[std::size_t(position) * std::size_t(c.topK) + std::size_t(j)]);
        experts = tr("expert(s) %1").arg(ids.join(QStringLiteral(", ")));
    }
    const QString label = m_scene.snapshot->sequenceLabel(m_scene.sequence);
    return tr("<b>%1</b> (id %2)<br>position %3 of sequence %4%5<br>layer %6: %7")
        .arg(m_scene.snapshot->tokenDisplay(position).toHtmlEscaped())
        .arg(a.tokenIds[std::size_t(position)])
        .arg(formatCount(position - seqBegin))
        .arg(m_scene.sequence)
        .arg(label.isEmpty() ? QString() : QStringLiteral(" (%1)").arg(label.toHtmlEscaped()))
        .arg(m_scene.snapshot->layerName(layer).toHtmlEscaped(), experts);
}

void RoutingMapCanvas::showGatesToolTip(std::int64_t position, int layer, const QPoint &globalPos)
{
    const QString base = cellToolTip(position, layer);
    QToolTip::showText(globalPos, base, viewport());
    const auto dump = m_scene.snapshot->dump;
    if (!dump)
        return;
    m_gatesJob->start<TokenGates>(
        [dump, layer, position](const Progress &) { return tokenGates(*dump, std::size_t(layer), position); },
        [this, base, globalPos, position, layer](TokenGates g) {
            if (!QToolTip::isVisible())
                return;
            std::int64_t nowPosition = -1;
            int nowLayer = -1;
            if (!cellAt(viewport()->mapFromGlobal(globalPos), nowPosition, nowLayer) || nowPosition != position ||
                nowLayer != layer)
                return;
            QStringList parts;
            for (std::size_t i = 0; i < g.experts.size(); ++i)
                parts << (i < g.weights.size() ? tr("%1 (%2)").arg(g.experts[i]).arg(formatNumber(g.weights[i], 3))
                                                : QString::number(g.experts[i]));
            const QString gates = g.weights.empty()
                                      ? tr("no gate weights in the dump")
                                      : tr("gate weights: %1%2").arg(parts.join(QStringLiteral(", ")),
                                                                     g.weightsRecorded ? QString() : tr(" (from logits)"));
            QToolTip::showText(globalPos, base + QStringLiteral("<br>") + gates, viewport());
        });
}

bool RoutingMapCanvas::viewportEvent(QEvent *event)
{
    if (event->type() == QEvent::ToolTip && m_scene.snapshot) {
        auto *help = static_cast<QHelpEvent *>(event);
        const int legendExpert = m_scene.legendExpertAt(viewport()->size(), m_pixelsPerToken, help->pos());
        if (legendExpert >= 0) {
            QToolTip::showText(help->globalPos(), tr("Expert %1 (click to select)").arg(legendExpert), viewport());
            return true;
        }
        std::int64_t position = 0;
        int layer = 0;
        if (!cellAt(help->pos(), position, layer)) {
            QToolTip::hideText();
            return true;
        }
        if (m_pixelsPerToken >= 1.0) {
            showGatesToolTip(position, layer, help->globalPos());
        } else {
            // A bin of several tokens: say what it summarises.
            const std::int64_t seqBegin = m_scene.snapshot->sequenceBegin(m_scene.sequence);
            const std::int64_t span = std::int64_t(std::ceil(1.0 / m_pixelsPerToken));
            const int e = m_scene.snapshot->analysis.bestExpert(std::size_t(layer), position);
            QToolTip::showText(help->globalPos(),
                               tr("positions %1 to %2 of sequence %3 (zoom in for single tokens)<br>layer %4, first "
                                  "token's best expert %5")
                                   .arg(formatCount(position - seqBegin), formatCount(position - seqBegin + span - 1))
                                   .arg(m_scene.sequence)
                                   .arg(m_scene.snapshot->layerName(layer))
                                   .arg(e),
                               viewport());
        }
        return true;
    }
    return QAbstractScrollArea::viewportEvent(event);
}

void RoutingMapCanvas::wheelEvent(QWheelEvent *event)
{
    const QPoint delta = event->angleDelta();
    if (event->modifiers() & Qt::ShiftModifier || std::abs(delta.x()) > std::abs(delta.y())) {
        const int d = std::abs(delta.x()) > std::abs(delta.y()) ? delta.x() : delta.y();
        m_viewBegin -= d / 120.0 * 60.0 / m_pixelsPerToken;
        clampView();
        viewMoved();
    } else if (delta.y() != 0) {
        zoomBy(std::pow(1.25, delta.y() / 120.0), event->position().x());
    }
    event->accept();
}

void RoutingMapCanvas::mousePressEvent(QMouseEvent *event)
{
    if (event->button() == Qt::LeftButton) {
        m_pressPos = event->position().toPoint();
        m_pressViewBegin = m_viewBegin;
        m_dragging = false;
    }
    QAbstractScrollArea::mousePressEvent(event);
}

void RoutingMapCanvas::mouseMoveEvent(QMouseEvent *event)
{
    if (event->buttons() & Qt::LeftButton) {
        const int dx = event->position().toPoint().x() - m_pressPos.x();
        if (m_dragging || std::abs(dx) > 4) {
            m_dragging = true;
            viewport()->setCursor(Qt::ClosedHandCursor);
            m_viewBegin = m_pressViewBegin - dx / m_pixelsPerToken;
            clampView();
            viewMoved();
        }
    }
    QAbstractScrollArea::mouseMoveEvent(event);
}

void RoutingMapCanvas::mouseReleaseEvent(QMouseEvent *event)
{
    if (event->button() == Qt::LeftButton) {
        viewport()->unsetCursor();
        if (!m_dragging) {
            const QPoint pos = event->position().toPoint();
            const int legendExpert = m_scene.legendExpertAt(viewport()->size(), m_pixelsPerToken, pos);
            std::int64_t position = 0;
            int layer = 0;
            if (legendExpert >= 0) {
                emit expertClicked(legendExpert);
            } else if (cellAt(pos, position, layer)) {
                const int expert = m_scene.snapshot->analysis.bestExpert(std::size_t(layer), position);
                emit cellClicked(position, m_scene.snapshot->analysis.tokenIds[std::size_t(position)], layer, expert);
            }
        }
        m_dragging = false;
    }
    QAbstractScrollArea::mouseReleaseEvent(event);
}

void RoutingMapCanvas::mouseDoubleClickEvent(QMouseEvent *event)
{
    if (event->button() == Qt::LeftButton)
        zoomBy(4.0, event->position().x());
}

void RoutingMapCanvas::keyPressEvent(QKeyEvent *event)
{
    const double page = visibleTokens();
    switch (event->key()) {
    case Qt::Key_Plus:
    case Qt::Key_Equal: zoomBy(1.5); break;
    case Qt::Key_Minus: zoomBy(1 / 1.5); break;
    case Qt::Key_Left: m_viewBegin -= page / 8; clampView(); viewMoved(); break;
    case Qt::Key_Right: m_viewBegin += page / 8; clampView(); viewMoved(); break;
    case Qt::Key_PageUp: m_viewBegin -= page; clampView(); viewMoved(); break;
    case Qt::Key_PageDown: m_viewBegin += page; clampView(); viewMoved(); break;
    case Qt::Key_Home: m_viewBegin = 0; clampView(); viewMoved(); break;
    case Qt::Key_End: m_viewBegin = double(sequenceLength()); clampView(); viewMoved(); break;
    default: QAbstractScrollArea::keyPressEvent(event); return;
    }
    event->accept();
}

void RoutingMapCanvas::contextMenuEvent(QContextMenuEvent *event)
{
    QMenu menu;
    menu.addAction(tr("Zoom to fit"), this, &RoutingMapCanvas::zoomToFit);
    menu.addAction(tr("Export chart..."), this, &RoutingMapCanvas::exportRequested);
    menu.exec(event->globalPos());
}

QSize RoutingMapCanvas::defaultExportSize() const
{
    const int L = m_scene.snapshot ? m_scene.snapshot->numLayers() : 8;
    const int rowHeight = std::clamp(640 / std::max(L, 1), 8, 28);
    return {1400, 140 + L * rowHeight};
}

void RoutingMapCanvas::renderChart(QPainter &painter, const QSize &size)
{
    if (!m_scene.snapshot) {
        m_scene.paint(painter, size, 0, 1, nullptr, true);
        return;
    }
    // The same positions as on screen, re-binned for the export's width. Before the
    // widget has been laid out (headless export) that is the whole sequence.
    double begin = m_viewBegin, count = visibleTokens();
    if (!isVisible() || count <= 0) {
        begin = 0;
        count = double(sequenceLength());
    }
    double ppt = m_scene.layout(size, 1.0, true).map.width() / std::max(count, 1.0);
    const RoutingMapPainter::Layout lay = m_scene.layout(size, ppt, true);
    ppt = lay.map.width() / std::max(count, 1.0);
    const RoutingWindow window = computeWindow(windowRequest(begin, ppt, lay.map.width()));
    m_scene.paint(painter, size, begin, ppt, &window, true);
}

void RoutingMapCanvas::writeCsv(QTextStream &out) const
{
    QStringList header = {"position", "sequence", "position_in_sequence", "token_id", "token"};
    if (!m_scene.snapshot) {
        writeCsvRow(out, header);
        return;
    }
    const auto &a = m_scene.snapshot->analysis;
    for (int l = 0; l < m_scene.snapshot->numLayers(); ++l)
        header << QStringLiteral("layer_%1").arg(QString::fromStdString(a.info.layers[std::size_t(l)].name));
    writeCsvRow(out, header);
    const std::int64_t seqBegin = m_scene.snapshot->sequenceBegin(m_scene.sequence);
    std::int64_t first = 0, last = sequenceLength();
    if (isVisible()) {
        first = std::int64_t(std::floor(m_viewBegin));
        last = std::min(last, std::int64_t(std::ceil(m_viewBegin + visibleTokens())));
    }
    for (std::int64_t t = first; t < last; ++t) {
        const std::int64_t position = seqBegin + t;
        QStringList row = {QString::number(position), QString::number(m_scene.sequence), QString::number(t),
                           QString::number(a.tokenIds[std::size_t(position)]),
                           QString::fromStdString(a.textAt(position))};
        for (const LayerPass &pass : a.passes) {
            const LayerChoices &c = pass.choices;
            if (!c.valid[std::size_t(position)]) {
                row << QString();
                continue;
            }
            QStringList ids;
            for (int j = 0; j < c.topK; ++j)
                ids << QString::number(c.ids[std::size_t(position) * std::size_t(c.topK) + std::size_t(j)]);
            row << ids.join(u' ');
        }
        writeCsvRow(out, row);
    }
}

} // namespace moescope::ui
