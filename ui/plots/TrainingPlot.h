#pragma once
// The router's health over training (/training): load-balancing loss and z-loss per
// layer against the step (the selected layer drawn bold, the others thin, coloured
// from the first layer to the last), and the selected layer's load per expert per
// step as a heatmap (load relative to that step's mean). Click a curve to select its
// layer; click the heatmap to select an expert.
#include "DumpSnapshot.h"
#include "PlotWidget.h"

#include <utility>

class QCPAxisRect;
class QCPColorMap;
class QCPTextElement;

namespace moescope::ui {

// What the training chart shows of a snapshot's /training series.
struct TrainingParameters {
    int layer = 0;   // drawn bold; its load per expert in the heatmap
    int expert = -1; // the selected expert (-1: none)
};

class TrainingPlot : public PlotWidget {
    Q_OBJECT
public:
    explicit TrainingPlot(QWidget *parent = nullptr);

    // The one way to set the chart: the window's view, `moescope export` and the report
    // all call it. Only what changed is redone (another layer restyles the curves).
    void showChart(const DumpSnapshotPtr &snapshot, const TrainingParameters &parameters);
    int layer() const { return m_layer; }
    // The steps shown (the user's zoom) and setting them, as dragging or the wheel do.
    std::pair<double, double> stepRange() const;
    void setStepRange(double lower, double upper);

    QString chartName() const override { return QStringLiteral("training"); }
    bool hasChartData() const override;
    QSize defaultExportSize() const override { return {1100, 900}; }
    void writeCsv(QTextStream &out) const override;

signals:
    void layerClicked(int layer);
    void expertClicked(int expert);

protected:
    QString toolTipAt(const QPoint &pos) const override;
    void clickedAt(const QPoint &pos) override;

private:
    void rebuild();
    void restyleCurves();
    void rebuildHeatmap();
    const TrainingSeries *series() const;
    int recordAt(double step) const;
    int nearestLayer(QCPAxisRect *rect, const std::vector<double> &values, const QPoint &pos, int record) const;
    QString layerName(int layer) const;

    DumpSnapshotPtr m_snapshot;
    int m_layer = 0, m_expert = -1;
    QCPTextElement *m_title;
    QCPAxisRect *m_lbRect, *m_zRect, *m_loadRect;
    QCPColorMap *m_load;
    double m_wholeLower = 0, m_wholeUpper = 0; // the steps axis showing the whole series
};

} // namespace moescope::ui
