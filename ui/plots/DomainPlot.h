#pragma once
// Domain specialisation (OLMoE) for one layer: a label x expert heatmap of the share
// of each label's tokens that has the expert among its choices (k * u_g[e]), coloured
// against the uniform line k / E, so an expert a language prefers stands out in red.
// Click a cell to select the expert.
#include "DumpSnapshot.h"
#include "PlotWidget.h"

class QCPColorMap;
class QCPItemRect;
class QCPTextElement;

namespace moescope::ui {

struct DomainParameters {
    int layer = 0;
    int expert = -1; // outlined column; -1: none
};

class DomainPlot : public PlotWidget {
    Q_OBJECT
public:
    explicit DomainPlot(QWidget *parent = nullptr);

    void showChart(const DumpSnapshotPtr &snapshot, const DomainParameters &parameters);
    QString chartName() const override { return QStringLiteral("domains"); }
    bool hasChartData() const override;
    QSize defaultExportSize() const override;
    void writeCsv(QTextStream &out) const override;

signals:
    void expertClicked(int expert);

protected:
    QString toolTipAt(const QPoint &pos) const override;
    void clickedAt(const QPoint &pos) override;

private:
    void rebuild();
    bool cellAt(const QPoint &pos, int &label, int &expert) const;

    DumpSnapshotPtr m_snapshot;
    DomainParameters m_parameters;
    std::vector<std::string> m_labels;
    std::vector<std::vector<double>> m_shares; // [label][expert] k * u_g[e]
    QCPColorMap *m_map;
    QCPItemRect *m_column;
    QCPTextElement *m_title;
};

} // namespace moescope::ui
