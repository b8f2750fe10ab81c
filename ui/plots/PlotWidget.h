#pragma once
// The base of the QCustomPlot charts: owns the plot, gives it the house style, and
// implements ChartSource's drawing by recording the plot into a QPicture, so the same
// vector drawing lands on screen, in PNG, SVG and PDF. Subclasses (all in ui/plots/)
// fill the plot; nothing outside ui/plots/ sees QCustomPlot itself.
#include "export/ChartSource.h"

#include <QWidget>

class QCustomPlot;
class QCPLayer;
class QLabel;
class QStackedWidget;

namespace moescope::ui {

class PlotWidget : public QWidget, public ChartSource {
    Q_OBJECT
public:
    explicit PlotWidget(QWidget *parent = nullptr);
    ~PlotWidget() override;

    QSize defaultExportSize() const override;
    void renderChart(QPainter &painter, const QSize &size) override;
    QSize sizeHint() const override { return {520, 320}; }

signals:
    // Right-click "Export...": the view that owns the chart opens the export dialog.
    void exportRequested();

protected:
    QCustomPlot *plot() const { return m_plot; }
    // The layer for selection marks: buffered on its own, so moving a mark repaints
    // only it, not the whole chart.
    QCPLayer *overlayLayer() const;
    void replotAll();      // queued: many changes in one event loop turn plot once
    void replotOverlay();
    // A note in place of the chart while it has nothing to show; empty: the chart.
    void setPlaceholder(const QString &text);
    // Tooltips follow the mouse: subclasses return the text for a widget position.
    virtual QString toolTipAt(const QPoint &) const { return {}; }
    // A left click at a plot position (selection); the default does nothing.
    virtual void clickedAt(const QPoint &) {}
    bool eventFilter(QObject *watched, QEvent *event) override;

private:
    QCustomPlot *m_plot;
    QStackedWidget *m_stack;
    QLabel *m_placeholder;
    bool m_fullReplotQueued = false; // replotAll() was called and its replot has not run
};

} // namespace moescope::ui
