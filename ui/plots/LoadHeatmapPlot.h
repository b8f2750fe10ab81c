#pragma once
// The overview: a layer x expert heatmap of each expert's load relative to the
// layer's mean (utilization share x E), hot and cold cells marked, the selected layer
// and expert outlined. Click a cell to select that layer and expert.
#include "DumpSnapshot.h"
#include "PlotWidget.h"

class QCPColorMap;
class QCPGraph;
class QCPItemRect;

namespace moescope::ui {

// What the overview marks on the heatmap; -1: no mark.
struct OverviewParameters {
    int layer = -1;
    int expert = -1;
};

class LoadHeatmapPlot : public PlotWidget {
    Q_OBJECT
public:
    explicit LoadHeatmapPlot(QWidget *parent = nullptr);

    // The one way to set the chart: the window's view, `moescope export` and the report
    // all call it. The same snapshot again only moves the marks.
    void showChart(const DumpSnapshotPtr &snapshot, const OverviewParameters &parameters);
    int selectedLayer() const { return m_layer; }
    int selectedExpert() const { return m_expert; }

    QString chartName() const override { return QStringLiteral("overview"); }
    bool hasChartData() const override { return bool(m_snapshot); }
    QSize defaultExportSize() const override;
    void writeCsv(QTextStream &out) const override;
    void renderChart(QPainter &painter, const QSize &size) override;

    // The cell under a widget position; false outside the map.
    bool cellAt(const QPoint &pos, int &layer, int &expert) const;

signals:
    void cellClicked(int layer, int expert);

protected:
    QString toolTipAt(const QPoint &pos) const override;
    void clickedAt(const QPoint &pos) override;
    void resizeEvent(QResizeEvent *event) override;

private:
    void rebuild();
    void placeSelectionMarks();
    void updateMarkSizes();
    void fitLayerLabels(int height);

    DumpSnapshotPtr m_snapshot;
    QCPColorMap *m_map = nullptr;
    QCPGraph *m_hot = nullptr;
    QCPGraph *m_cold = nullptr;
    QCPItemRect *m_layerBand = nullptr;
    QCPItemRect *m_expertBand = nullptr;
    QCPItemRect *m_cell = nullptr;
    int m_layer = -1, m_expert = -1;
    int m_layerLabelStep = 0;
};

} // namespace moescope::ui
