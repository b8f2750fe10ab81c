#pragma once
// The selected expert across checkpoints (x: checkpoints in step order): its load
// relative to the layer mean (right axis) and the Jaccard similarity of its token set
// with the reference's (left axis: 1 = the same tokens, the expert kept its job).
#include "CheckpointSeries.h"
#include "PlotWidget.h"

class QCPGraph;
class QCPItemStraightLine;
class QCPTextElement;

namespace moescope::ui {

struct CheckpointExpertParameters {
    int layer = 0;       // position in comparison->layers
    int expert = 0;
    int checkpoint = -1; // marked (index into the files); -1: none
};

class CheckpointExpertPlot : public PlotWidget {
    Q_OBJECT
public:
    explicit CheckpointExpertPlot(QWidget *parent = nullptr);

    void showChart(const CheckpointComparisonPtr &comparison, const CheckpointExpertParameters &parameters);
    QString chartName() const override { return QStringLiteral("checkpoint-expert"); }
    bool hasChartData() const override;
    void writeCsv(QTextStream &out) const override;

private:
    void rebuild();

    CheckpointComparisonPtr m_comparison;
    CheckpointExpertParameters m_parameters;
    QCPGraph *m_jaccard, *m_load;
    QCPItemStraightLine *m_marker;
    QCPTextElement *m_title;
};

// The per-expert load change u_C[e] - u_R[e] of one checkpoint at one layer, one bar
// per expert (up: the expert gained load since then, towards the reference).
struct LoadChangeParameters {
    int layer = 0;
    int checkpoint = 0;  // index into the files
    int expert = -1;     // outlined; -1: none
};

class QCPBarsHolder;

class LoadChangePlot : public PlotWidget {
    Q_OBJECT
public:
    explicit LoadChangePlot(QWidget *parent = nullptr);

    void showChart(const CheckpointComparisonPtr &comparison, const LoadChangeParameters &parameters);
    QString chartName() const override { return QStringLiteral("load-change"); }
    bool hasChartData() const override;
    void writeCsv(QTextStream &out) const override;

signals:
    void expertClicked(int expert);

protected:
    void clickedAt(const QPoint &pos) override;
    QString toolTipAt(const QPoint &pos) const override;

private:
    void rebuild();
    int expertAt(const QPoint &pos) const;

    CheckpointComparisonPtr m_comparison;
    LoadChangeParameters m_parameters;
    QCPTextElement *m_title;
};

} // namespace moescope::ui
