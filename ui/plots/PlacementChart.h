#pragma once
// The placement chart: four panels of one PlacementComparison, drawn with QPainter at
// any size so the view, `export --chart placement` and the report look the same:
//   - rank x layer heatmap of the "after" placement's load relative to the mean;
//   - the selected layer's per-rank bars, each rank's experts stacked (a replica is
//     one segment carrying its share of the expert's load), the mean as a line;
//   - the selected layer's all-to-all matrix (source rank down, destination across);
//   - before/after: the straggler factor of every layer under both placements.
// Hit testing (placementHitAt) serves the view's hover text and clicks.
#include "PlacementComparison.h"
#include "export/ChartSource.h"

#include <QRectF>

#include <memory>

class QPainter;
class QTextStream;

namespace moescope::ui {

struct PlacementParameters {
    std::shared_ptr<const PlacementComparison> data; // null: nothing to show
    int layer = 0;    // the selected layer (position)
    int expert = -1;  // outlined wherever it sits
};

struct PlacementHit {
    enum Kind { None, HeatCell, Segment, MatrixCell, CompareLayer } kind = None;
    int layer = -1, rank = -1, expert = -1, dest = -1;
    int replica = 0; // which of the expert's replicas (0-based) a segment is
};

void renderPlacement(const PlacementParameters &parameters, QPainter &painter, const QSize &size);
PlacementHit placementHitAt(const PlacementParameters &parameters, const QSize &size, const QPointF &pos);
// Plain text naming what is under the mouse (expert, its replicas and their ranks...).
QString placementToolTip(const PlacementParameters &parameters, const PlacementHit &hit);
// policy,layer,rank,load,relative_to_mean,experts: every rank of every layer under
// both placements (experts: the rank's slots, space-separated).
void writePlacementCsv(const PlacementParameters &parameters, QTextStream &out);
inline QSize placementExportSize() { return {1200, 820}; }

// The chart the export command and the report hand to the exporters.
class PlacementChart : public ChartSource {
public:
    explicit PlacementChart(PlacementParameters parameters) : m_parameters(std::move(parameters)) {}
    QString chartName() const override { return QStringLiteral("placement"); }
    bool hasChartData() const override { return bool(m_parameters.data); }
    QSize defaultExportSize() const override { return placementExportSize(); }
    void renderChart(QPainter &painter, const QSize &size) override { renderPlacement(m_parameters, painter, size); }
    void writeCsv(QTextStream &out) const override { writePlacementCsv(m_parameters, out); }

private:
    PlacementParameters m_parameters;
};

} // namespace moescope::ui
