#pragma once
// What every exportable chart offers: drawing itself at any size on any QPainter
// (screen, PNG, SVG, PDF page) and writing the data it shows as CSV. The exporters
// and the report know charts only through this interface.
#include <QSize>
#include <QString>

class QPainter;
class QTextStream;

namespace moescope::ui {

class ChartSource {
public:
    virtual ~ChartSource() = default;
    // The name used on the command line and in file names: "overview", "utilization", ...
    virtual QString chartName() const = 0;
    virtual bool hasChartData() const = 0;
    // The logical size (1/96 inch pixels) an export uses unless told otherwise.
    virtual QSize defaultExportSize() const = 0;
    // Draws the chart into [0, 0, size] of `painter` (which the caller may have
    // translated or scaled).
    virtual void renderChart(QPainter &painter, const QSize &size) = 0;
    // The chart's data: a header row, then one row per item, RFC 4180 quoting.
    virtual void writeCsv(QTextStream &out) const = 0;
};

} // namespace moescope::ui
