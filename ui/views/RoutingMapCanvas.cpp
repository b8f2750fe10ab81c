#include "RoutingMapCanvas.h"

#include "RoutingMapBins.h"
#include "RoutingMapPainter.h"
#include "RoutingMapToolTips.h"

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
} // namespace

RoutingMapCanvas::RoutingMapCanvas(QWidget *parent)
    : QAbstractScrollArea(parent), m_bins(new RoutingMapBinner(this)), m_toolTip(new RoutingMapToolTip(viewport()))
{
    setHorizontalScrollBarPolicy(Qt::ScrollBarAlwaysOn);
    setVerticalScrollBarPolicy(Qt::ScrollBarAlwaysOff);
    setFocusPolicy(Qt::StrongFocus);
    viewport()->setMouseTracking(true);
    viewport()->setAutoFillBackground(false);
    setFrameShape(QFrame::NoFrame);
    setMinimumHeight(160);
    connect(m_bins, &RoutingMapBinner::windowReady, viewport(), qOverload<>(&QWidget::update));
}

std::int64_t RoutingMapCanvas::sequenceLength() const
{
    return RoutingMapPainter::sequenceLength(m_snapshot.get(), m_sequence);
}

int RoutingMapCanvas::mapWidth() const
{
    return RoutingMapPainter::layout(m_snapshot.get(), font(), viewport()->size(), m_pixelsPerToken, false).map.width();
}

std::span<const std::int64_t> RoutingMapCanvas::tokenPositions() const
{
    if (!m_snapshot || m_selection.tokenId < 0)
        return {};
    return m_snapshot->tokenPositions().of(m_selection.tokenId);
}

RoutingMapScene RoutingMapCanvas::scene() const
{
    RoutingMapScene shown;
    shown.snapshot = m_snapshot.get();
    shown.emptyText = m_emptyText;
    shown.sequence = m_sequence;
    shown.selection = m_selection;
    shown.dimOthers = m_dimOthers;
    shown.palette = &m_palette;
    shown.tokenPositions = tokenPositions();
    shown.font = font();
    shown.begin = m_viewBegin;
    shown.pixelsPerToken = m_pixelsPerToken;
    shown.window = m_bins->window();
    return shown;
}

void RoutingMapCanvas::setSnapshot(const DumpSnapshotPtr &snapshot)
{
    m_bins->reset();
    m_snapshot = snapshot;
    m_palette = ExpertPalette(snapshot ? snapshot->numExperts() : 8);
    m_sequence = 0;
    zoomToFit();
}

void RoutingMapCanvas::setSequence(std::int64_t sequence)
{
    if (!m_snapshot || sequence < 0 || sequence >= m_snapshot->numSequences() || sequence == m_sequence)
        return;
    m_sequence = sequence;
    m_bins->reset();
    zoomToFit();
}

void RoutingMapCanvas::setSelection(const Selection &selection)
{
    const Selection previous = m_selection;
    m_selection = selection;
    if (!m_snapshot) {
        viewport()->update();
        return;
    }
    // Follow a selection made elsewhere: show its position, or the first occurrence
    // of its token in this sequence when none is in view.
    const std::int64_t seqBegin = m_snapshot->sequenceBegin(m_sequence);
    if (selection.position >= 0 && selection.position != previous.position) {
        revealPosition(selection.position);
    } else if (selection.tokenId >= 0 && selection.tokenId != previous.tokenId) {
        const std::span<const std::int64_t> positions = tokenPositions();
        const std::int64_t seqEnd = m_snapshot->sequenceEnd(m_sequence);
        const double viewFirst = seqBegin + m_viewBegin, viewLast = viewFirst + visibleTokens();
        const auto inView = std::lower_bound(positions.begin(), positions.end(), std::int64_t(viewFirst));
        const bool visible = inView != positions.end() && double(*inView) < viewLast;
        const auto inSequence = std::lower_bound(positions.begin(), positions.end(), seqBegin);
        if (!visible && inSequence != positions.end() && *inSequence < seqEnd)
            showRange(double(*inSequence - seqBegin) - visibleTokens() / 2, visibleTokens());
    }
    if (selection.expert != previous.expert)
        requestWindow();
    viewport()->update();
}

void RoutingMapCanvas::setDimOthers(bool dim)
{
    m_dimOthers = dim;
    viewport()->update();
}

double RoutingMapCanvas::visibleTokens() const
{
    return std::min(double(sequenceLength()), mapWidth() / m_pixelsPerToken);
}

double RoutingMapCanvas::minPixelsPerToken(int width) const
{
    const std::int64_t n = sequenceLength();
    return n > 0 ? std::min(kMaxPixelsPerToken, double(std::max(width, 1)) / double(n)) : 1.0;
}

void RoutingMapCanvas::clampView()
{
    const int width = mapWidth();
    m_pixelsPerToken = std::clamp(m_pixelsPerToken, minPixelsPerToken(width), kMaxPixelsPerToken);
    const double visible = width / m_pixelsPerToken;
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
    const RoutingMapPainter::Layout lay =
        RoutingMapPainter::layout(m_snapshot.get(), font(), viewport()->size(), m_pixelsPerToken, false);
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
    m_pixelsPerToken = mapWidth() / std::max(1.0, count);
    clampView();
    m_viewBegin = begin;
    clampView();
    viewMoved();
}

void RoutingMapCanvas::revealPosition(std::int64_t position)
{
    if (!m_snapshot || position < 0 || position >= m_snapshot->analysis.numTokens())
        return;
    const std::int64_t sequence = m_snapshot->analysis.sequenceOf(position);
    if (sequence != m_sequence)
        setSequence(sequence);
    const double rel = double(position - m_snapshot->sequenceBegin(m_sequence));
    const double visible = visibleTokens();
    if (rel >= m_viewBegin && rel < m_viewBegin + visible)
        return;
    showRange(rel - visible / 2, visible);
}

void RoutingMapCanvas::moveViewTo(double begin)
{
    m_viewBegin = begin;
    clampView();
    viewMoved();
}

void RoutingMapCanvas::syncScrollBar()
{
    const int width = mapWidth();
    const double content = double(sequenceLength()) * m_pixelsPerToken;
    const double unit = std::max(1.0, content / 1e9); // scroll bar values are ints
    m_updatingScrollBar = true;
    QScrollBar *bar = horizontalScrollBar();
    bar->setRange(0, int(std::max(0.0, (content - width) / unit)));
    bar->setPageStep(int(std::max(1.0, width / unit)));
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
    m_fitted = m_viewBegin <= 0 && double(sequenceLength()) * m_pixelsPerToken <= mapWidth() + 0.5;
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

void RoutingMapCanvas::requestWindow()
{
    if (!m_snapshot || sequenceLength() == 0)
        return;
    m_bins->request(m_snapshot, routingMapRequest(*m_snapshot, m_sequence, m_viewBegin, m_pixelsPerToken, mapWidth(),
                                                  m_selection.expert));
}

void RoutingMapCanvas::paintEvent(QPaintEvent *)
{
    QPainter p(viewport());
    RoutingMapPainter::paint(p, scene(), viewport()->size());
}

bool RoutingMapCanvas::cellAt(const QPoint &pos, std::int64_t &position, int &layer) const
{
    if (!m_snapshot || sequenceLength() == 0)
        return false;
    const RoutingMapPainter::Layout lay =
        RoutingMapPainter::layout(m_snapshot.get(), font(), viewport()->size(), m_pixelsPerToken, false);
    if (!lay.map.contains(pos) || lay.rowHeight <= 0)
        return false;
    const double rel = m_viewBegin + (pos.x() - lay.map.left()) / m_pixelsPerToken;
    const std::int64_t t = std::int64_t(std::floor(rel));
    layer = std::clamp(int((pos.y() - lay.map.top()) / lay.rowHeight), 0, m_snapshot->numLayers() - 1);
    if (t < 0 || t >= sequenceLength())
        return false;
    position = m_snapshot->sequenceBegin(m_sequence) + t;
    return true;
}

bool RoutingMapCanvas::handleToolTip(const QPoint &pos, const QPoint &globalPos)
{
    const int legendExpert = RoutingMapPainter::legendExpertAt(scene(), viewport()->size(), pos);
    if (legendExpert >= 0) {
        QToolTip::showText(globalPos, RoutingMapToolTip::legendText(legendExpert), viewport());
        return true;
    }
    std::int64_t position = 0;
    int layer = 0;
    if (!cellAt(pos, position, layer)) {
        QToolTip::hideText();
        return true;
    }
    if (m_pixelsPerToken < 1.0) {
        QToolTip::showText(globalPos,
                           RoutingMapToolTip::binText(*m_snapshot, m_sequence, position, layer, m_pixelsPerToken),
                           viewport());
        return true;
    }
    // The gate weights follow only while the mouse stays on this cell.
    auto stillOver = [this, globalPos, position, layer] {
        std::int64_t nowPosition = -1;
        int nowLayer = -1;
        return cellAt(viewport()->mapFromGlobal(globalPos), nowPosition, nowLayer) && nowPosition == position &&
               nowLayer == layer;
    };
    m_toolTip->showCell(m_snapshot, m_sequence, position, layer, globalPos, stillOver);
    return true;
}

bool RoutingMapCanvas::viewportEvent(QEvent *event)
{
    if (event->type() == QEvent::ToolTip && m_snapshot) {
        auto *help = static_cast<QHelpEvent *>(event);
        return handleToolTip(help->pos(), help->globalPos());
    }
    return QAbstractScrollArea::viewportEvent(event);
}

void RoutingMapCanvas::wheelEvent(QWheelEvent *event)
{
    const QPoint delta = event->angleDelta();
    if (event->modifiers() & Qt::ShiftModifier || std::abs(delta.x()) > std::abs(delta.y())) {
        const int d = std::abs(delta.x()) > std::abs(delta.y()) ? delta.x() : delta.y();
        moveViewTo(m_viewBegin - d / 120.0 * 60.0 / m_pixelsPerToken);
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
            moveViewTo(m_pressViewBegin - dx / m_pixelsPerToken);
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
            const int legendExpert = RoutingMapPainter::legendExpertAt(scene(), viewport()->size(), pos);
            std::int64_t position = 0;
            int layer = 0;
            if (legendExpert >= 0) {
                emit expertClicked(legendExpert);
            } else if (cellAt(pos, position, layer)) {
                const int expert = m_snapshot->analysis.bestExpert(std::size_t(layer), position);
                emit cellClicked(position, m_snapshot->analysis.tokenIds[std::size_t(position)], layer, expert);
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
    case Qt::Key_Left: moveViewTo(m_viewBegin - page / 8); break;
    case Qt::Key_Right: moveViewTo(m_viewBegin + page / 8); break;
    case Qt::Key_PageUp: moveViewTo(m_viewBegin - page); break;
    case Qt::Key_PageDown: moveViewTo(m_viewBegin + page); break;
    case Qt::Key_Home: moveViewTo(0); break;
    case Qt::Key_End: moveViewTo(double(sequenceLength())); break;
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

RoutingMapParameters RoutingMapCanvas::chartParameters() const
{
    RoutingMapParameters parameters;
    parameters.sequence = m_sequence;
    parameters.selection = m_selection;
    parameters.dimOthers = m_dimOthers;
    parameters.font = font();
    // The same positions as on screen, re-binned for the export's width. Before the
    // widget has been laid out (headless export) that is the whole sequence.
    if (isVisible()) {
        parameters.begin = m_viewBegin;
        parameters.count = visibleTokens();
    }
    return parameters;
}

QSize RoutingMapCanvas::defaultExportSize() const { return routingMapExportSize(m_snapshot.get()); }

void RoutingMapCanvas::renderChart(QPainter &painter, const QSize &size)
{
    RoutingMapChart(m_snapshot, chartParameters()).renderChart(painter, size);
}

void RoutingMapCanvas::writeCsv(QTextStream &out) const { writeRoutingMapCsv(m_snapshot.get(), chartParameters(), out); }

} // namespace moescope::ui
