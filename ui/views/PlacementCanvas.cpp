#include "PlacementCanvas.h"

#include <QContextMenuEvent>
#include <QMenu>
#include <QMouseEvent>
#include <QPainter>
#include <QToolTip>

namespace moescope::ui {

PlacementCanvas::PlacementCanvas(QWidget *parent) : QWidget(parent)
{
    setMouseTracking(true);
    setMinimumSize(160, 100); // small: it shares the bottom dock area with the routing map
}

void PlacementCanvas::setParameters(const PlacementParameters &parameters)
{
    m_parameters = parameters;
    update();
}

void PlacementCanvas::setNote(const QString &note)
{
    m_note = note;
    update();
}

void PlacementCanvas::paintEvent(QPaintEvent *)
{
    QPainter painter(this);
    painter.setRenderHint(QPainter::Antialiasing);
    if (!m_parameters.data) {
        painter.fillRect(rect(), Qt::white);
        painter.setPen(QColor(0x66, 0x66, 0x66));
        painter.drawText(rect().adjusted(20, 20, -20, -20), Qt::AlignCenter | Qt::TextWordWrap, m_note);
        return;
    }
    renderPlacement(m_parameters, painter, size());
}

void PlacementCanvas::mouseMoveEvent(QMouseEvent *event)
{
    const QString text = placementToolTip(m_parameters, hitAt(event->position()));
    if (text.isEmpty())
        QToolTip::hideText();
    else
        QToolTip::showText(event->globalPosition().toPoint(), text, this);
}

void PlacementCanvas::mousePressEvent(QMouseEvent *event)
{
    if (event->button() != Qt::LeftButton)
        return;
    const PlacementHit hit = hitAt(event->position());
    switch (hit.kind) {
    case PlacementHit::Segment: emit expertClicked(hit.layer, hit.expert); break;
    case PlacementHit::HeatCell:
    case PlacementHit::CompareLayer: emit layerClicked(hit.layer); break;
    default: break;
    }
}

void PlacementCanvas::contextMenuEvent(QContextMenuEvent *event)
{
    QMenu menu;
    menu.addAction(tr("Export chart..."), this, &PlacementCanvas::exportRequested);
    menu.exec(event->globalPos());
}

} // namespace moescope::ui
