#pragma once
// Checkpoints of one run: a layer x checkpoint heatmap of router saturation (the share
// of each token's experts that already agree with the reference checkpoint), columns
// in step order. Rising along a row is the router settling. Click a cell to choose
// that layer and checkpoint.
#include "CheckpointSeries.h"
#include "PlotWidget.h"

class QCPColorMap;
class QCPItemRect;

namespace moescope::ui {

struct SaturationParameters {
    int layer = -1;        // outlined row; -1: none
    int checkpoint = -1;   // outlined column (index into the files as given); -1: none
};

class SaturationPlot : public PlotWidget {
    Q_OBJECT
public:
    explicit SaturationPlot(QWidget *parent = nullptr);

    void showChart(const CheckpointComparisonPtr &comparison, const SaturationParameters &parameters);
    QString chartName() const override { return QStringLiteral("saturation"); }
    bool hasChartData() const override { return m_comparison && !m_comparison->layers.empty(); }
    QSize defaultExportSize() const override;
    void writeCsv(QTextStream &out) const override;

    // The cell under a widget position (checkpoint as an index into the files).
    bool cellAt(const QPoint &pos, int &layer, int &checkpoint) const;

signals:
    void cellClicked(int layer, int checkpoint);

protected:
    QString toolTipAt(const QPoint &pos) const override;
    void clickedAt(const QPoint &pos) override;

private:
    void rebuild();
    void placeMarks();

    CheckpointComparisonPtr m_comparison;
    SaturationParameters m_parameters;
    QCPColorMap *m_map;
    QCPItemRect *m_row, *m_column;
};

} // namespace moescope::ui
