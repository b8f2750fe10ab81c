#pragma once
// The selected layer's load: one bar per expert (hot and cold bars in their own
// colours), the balanced mean and the capacity (CF x mean) as lines, exact counts in
// tooltips. Click a bar to select the expert. Bars can be ordered by load to show
// the shape of a collapse at a glance.
#include "DumpSnapshot.h"
#include "PlotWidget.h"

class QCPBars;
class QCPItemStraightLine;
class QCPItemText;
class QCPItemRect;
class QCPTextElement;

namespace moescope::ui {

// What the utilization chart shows of a snapshot.
struct UtilizationParameters {
    int layer = 0;             // position in the ordered layer list; -1: none
    int expert = -1;           // outlined; -1: none
    bool sortedByLoad = false; // bars from the busiest expert to the idlest
};

class UtilizationPlot : public PlotWidget {
    Q_OBJECT
public:
    explicit UtilizationPlot(QWidget *parent = nullptr);

    // The one way to set the chart: the window's view, `moescope export` and the report
    // all call it. Only what changed is redone (another expert moves just the outline).
    void showChart(const DumpSnapshotPtr &snapshot, const UtilizationParameters &parameters);
    bool sortedByLoad() const { return m_sorted; }
    int layer() const { return m_layer; }
    int selectedExpert() const { return m_expert; }

    QString chartName() const override { return QStringLiteral("utilization"); }
    bool hasChartData() const override { return m_snapshot && m_layer >= 0; }
    void writeCsv(QTextStream &out) const override;

    // The expert whose bar is under a widget position, or -1.
    int expertAt(const QPoint &pos) const;

signals:
    void expertClicked(int expert);

protected:
    QString toolTipAt(const QPoint &pos) const override;
    void clickedAt(const QPoint &pos) override;

private:
    void rebuild();
    void placeSelectedMark();
    double keyOf(int expert) const; // x position of an expert's bar

    DumpSnapshotPtr m_snapshot;
    int m_layer = -1, m_expert = -1;
    bool m_sorted = false;
    std::vector<int> m_order;       // expert at each x position
    std::vector<int> m_rank;        // x position of each expert
    QCPBars *m_normal, *m_hot, *m_cold;
    QCPItemStraightLine *m_meanLine, *m_capacityLine;
    QCPItemText *m_meanLabel, *m_capacityLabel;
    QCPItemRect *m_selected;
    QCPItemText *m_selectedLabel; // the expert's id over its bar: bars of 256 experts are thin
    QCPTextElement *m_title;
};

} // namespace moescope::ui
