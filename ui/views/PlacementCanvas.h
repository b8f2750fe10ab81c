#pragma once
// The placement chart on screen (PlacementChart.h draws it): hover explains the cell,
// segment or layer under the mouse; a click selects the layer (heatmap, straggler
// curves) or the expert (a rank's segment); right-click exports.
#include "plots/PlacementChart.h"

#include <QWidget>

namespace moescope::ui {

class PlacementCanvas : public QWidget, public ChartSource {
    Q_OBJECT
public:
    explicit PlacementCanvas(QWidget *parent = nullptr);

    void setParameters(const PlacementParameters &parameters);
    const PlacementParameters &parameters() const { return m_parameters; }
    // What lies under a widget position (tests click through it).
    PlacementHit hitAt(const QPointF &pos) const { return placementHitAt(m_parameters, size(), pos); }

    QString chartName() const override { return QStringLiteral("placement"); }
    bool hasChartData() const override { return bool(m_parameters.data); }
    QSize defaultExportSize() const override { return placementExportSize(); }
    void renderChart(QPainter &painter, const QSize &size) override { renderPlacement(m_parameters, painter, size); }
    void writeCsv(QTextStream &out) const override { writePlacementCsv(m_parameters, out); }
    QSize sizeHint() const override { return {760, 520}; }
    void setNote(const QString &note); // shown instead of the chart while there is none

signals:
    void layerClicked(int layer);
    void expertClicked(int layer, int expert);
    void exportRequested();

protected:
    void paintEvent(QPaintEvent *event) override;
    void mouseMoveEvent(QMouseEvent *event) override;
    void mousePressEvent(QMouseEvent *event) override;
    void contextMenuEvent(QContextMenuEvent *event) override;

private:
    PlacementParameters m_parameters;
    QString m_note;
};

} // namespace moescope::ui
