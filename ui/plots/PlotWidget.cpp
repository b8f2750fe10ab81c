#include "PlotWidget.h"

#include "PlotStyle.h"

#include <QContextMenuEvent>
#include <QHelpEvent>
#include <QMenu>
#include <QLabel>
#include <QPicture>
#include <QStackedWidget>
#include <QToolTip>
#include <QVBoxLayout>
#include <qcustomplot.h>

namespace moescope::ui {

PlotWidget::PlotWidget(QWidget *parent)
    : QWidget(parent), m_plot(new QCustomPlot(this)), m_stack(new QStackedWidget(this)), m_placeholder(new QLabel(this))
{
    m_placeholder->setAlignment(Qt::AlignCenter);
    m_placeholder->setWordWrap(true);
    m_placeholder->setStyleSheet(QStringLiteral("color: #777; background: white"));
    m_stack->addWidget(m_plot);
    m_stack->addWidget(m_placeholder);
    auto *layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->addWidget(m_stack);
    PlotStyle::apply(m_plot);
    m_plot->addLayer(QStringLiteral("marks"), m_plot->layer(QStringLiteral("main")), QCustomPlot::limAbove);
    m_plot->layer(QStringLiteral("marks"))->setMode(QCPLayer::lmBuffered);
    m_plot->setContextMenuPolicy(Qt::CustomContextMenu);
    connect(m_plot, &QWidget::customContextMenuRequested, this, [this](const QPoint &pos) {
        QMenu menu;
        menu.addAction(tr("Export chart..."), this, &PlotWidget::exportRequested);
        menu.exec(m_plot->mapToGlobal(pos));
    });
    m_plot->installEventFilter(this);
    m_plot->setMouseTracking(true);
    connect(m_plot, &QCustomPlot::afterReplot, this, [this] { m_fullReplotQueued = false; });
}

PlotWidget::~PlotWidget() = default;

QSize PlotWidget::defaultExportSize() const { return {1000, 600}; }

QCPLayer *PlotWidget::overlayLayer() const { return m_plot->layer(QStringLiteral("marks")); }

void PlotWidget::replotAll()
{
    m_fullReplotQueued = true;
    m_plot->replot(QCustomPlot::rpQueuedReplot);
}

void PlotWidget::replotOverlay()
{
    // A whole replot on its way draws the marks too. Without this check, marks moved
    // right after new data (a new layer's bars and its selected expert) replot the
    // whole chart at once whenever QCustomPlot's buffers need it, then again queued.
    if (!m_fullReplotQueued)
        overlayLayer()->replot();
}

void PlotWidget::setPlaceholder(const QString &text)
{
    m_placeholder->setText(text);
    m_stack->setCurrentWidget(text.isEmpty() ? static_cast<QWidget *>(m_plot) : m_placeholder);
}

void PlotWidget::renderChart(QPainter &painter, const QSize &size)
{
    // QCustomPlot draws only with its own painter; a QPicture records that drawing as
    // vector commands that any painter can replay.
    QPicture picture;
    {
        QCPPainter recorder(&picture);
        m_plot->toPainter(&recorder, size.width(), size.height());
    }
    painter.save();
    painter.setClipRect(QRect(QPoint(0, 0), size));
    painter.drawPicture(0, 0, picture);
    painter.restore();
}

bool PlotWidget::eventFilter(QObject *watched, QEvent *event)
{
    if (watched == m_plot) {
        if (event->type() == QEvent::ToolTip) {
            auto *help = static_cast<QHelpEvent *>(event);
            const QString text = toolTipAt(help->pos());
            if (text.isEmpty())
                QToolTip::hideText();
            else
                QToolTip::showText(help->globalPos(), text, m_plot);
            return true;
        }
        if (event->type() == QEvent::MouseButtonPress) {
            auto *mouse = static_cast<QMouseEvent *>(event);
            if (mouse->button() == Qt::LeftButton)
                clickedAt(mouse->position().toPoint());
        }
    }
    return QWidget::eventFilter(watched, event);
}

} // namespace moescope::ui
