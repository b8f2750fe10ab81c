#pragma once
// The routing map as a chart, without a live widget: one function draws the map of a
// (snapshot, parameters) pair at any size on any QPainter, one writes its CSV. The
// view's exports, the export command and the PDF report all go through these, so a
// map looks the same wherever it is drawn.
#include "DumpSnapshot.h"
#include "Selection.h"
#include "export/ChartSource.h"

#include <QFont>

class QPainter;
class QTextStream;

namespace moescope::ui {

struct RoutingMapParameters {
    std::int64_t sequence = 0;
    Selection selection;   // layer, expert, position and token id marked
    bool dimOthers = true; // fade the cells that did not choose selection.expert
    // The positions shown, relative to the sequence start; count <= 0: the whole sequence.
    double begin = 0, count = 0;
    bool withTitle = true; // a line naming the sequence and range above the map
    QFont font;            // default: the application's
};

// Draws the map into [0, 0, size] of `painter`, binning the shown positions into the
// columns that size allows (on the calling thread).
void renderRoutingMap(const DumpSnapshot &snapshot, const RoutingMapParameters &parameters, QPainter &painter,
                      const QSize &size);
// The shown positions (the whole sequence when parameters.count <= 0): a header row,
// then one row per position with each layer's experts.
void writeRoutingMapCsv(const DumpSnapshot *snapshot, const RoutingMapParameters &parameters,
                        QTextStream &out);
// A size that gives each layer a readable row.
QSize routingMapExportSize(const DumpSnapshot *snapshot);

// The chart the export command and the report hand to the exporters.
class RoutingMapChart : public ChartSource {
public:
    RoutingMapChart(DumpSnapshotPtr snapshot, const RoutingMapParameters &parameters)
        : m_snapshot(std::move(snapshot)), m_parameters(parameters)
    {
    }
    QString chartName() const override { return QStringLiteral("routing-map"); }
    bool hasChartData() const override { return bool(m_snapshot); }
    QSize defaultExportSize() const override { return routingMapExportSize(m_snapshot.get()); }
    void renderChart(QPainter &painter, const QSize &size) override;
    void writeCsv(QTextStream &out) const override
    {
        writeRoutingMapCsv(m_snapshot.get(), m_parameters, out);
    }

private:
    DumpSnapshotPtr m_snapshot;
    RoutingMapParameters m_parameters;
};

} // namespace moescope::ui
