#pragma once
// Writes a chart to PNG, SVG, PDF or CSV, chosen by the file's suffix. Every file is
// written through QSaveFile: it appears complete or not at all, never half-written.
#include <QSize>
#include <QString>

#include <optional>

namespace moescope::ui {

class ChartSource;

enum class ExportFormat { Png, Svg, Pdf, Csv };

std::optional<ExportFormat> exportFormatForPath(const QString &path);
QString exportFormatName(ExportFormat format);

struct ExportOptions {
    QSize size;      // logical size in 1/96-inch pixels; empty: the chart's default
    int dpi = 96;    // PNG only: the image has size x dpi / 96 pixels and says so in its header
};

// Returns an empty string on success, else a message naming the file and the problem.
QString exportChart(ChartSource &chart, const QString &path, const ExportOptions &options = {});

} // namespace moescope::ui
