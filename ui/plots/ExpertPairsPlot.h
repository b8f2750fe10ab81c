#pragma once
// An E x E heatmap of expert pairs (PairMatrix): each row e1 shows how the tokens of
// e1 spread over the experts e2, as shares of the row, so a row that is dark in one
// cell says "e1's tokens nearly always come with (or go on to) that expert". The
// selected expert's row is outlined. Click a cell to follow the pair (the view decides
// what that selects).
#include "DumpSnapshot.h"
#include "PairMatrix.h"
#include "PlotWidget.h"

#include <memory>

class QCPColorMap;
class QCPColorScale;
class QCPItemRect;
class QCPTextElement;

namespace moescope::ui {

// What the pairs chart shows: a matrix counted beforehand (countPairs; shared, so
// showing it again with another expert copies nothing) and the outlined row.
struct PairsParameters {
    std::shared_ptr<const PairMatrix> pairs; // null or empty: nothing to show
    int expert = -1;
};

class ExpertPairsPlot : public PlotWidget {
    Q_OBJECT
public:
    explicit ExpertPairsPlot(QWidget *parent = nullptr);

    // The kind named in exports while no pairs are shown.
    void setKind(PairKind kind);
    PairKind kind() const { return hasChartData() ? pairs().kind : m_kind; }
    // The one way to set the chart: the window's view, `moescope export` and the report
    // all call it. The same snapshot and matrix again only move the outline.
    void showChart(const DumpSnapshotPtr &snapshot, const PairsParameters &parameters);
    // Nothing to show, and why (k = 1, the last layer, still counting...).
    void clear(const QString &why);
    const PairMatrix &pairs() const;

    QString chartName() const override { return QString::fromLatin1(pairKindChartName(kind())); }
    bool hasChartData() const override { return m_snapshot && !pairs().isEmpty(); }
    QSize defaultExportSize() const override;
    void writeCsv(QTextStream &out) const override;

    // The cell under a widget position; false outside the map.
    bool cellAt(const QPoint &pos, int &e1, int &e2) const;

signals:
    void cellClicked(int e1, int e2);

protected:
    QString toolTipAt(const QPoint &pos) const override;
    void clickedAt(const QPoint &pos) override;

private:
    QString toLayerName() const;
    void placeSelectedRow();

    DumpSnapshotPtr m_snapshot;
    std::shared_ptr<const PairMatrix> m_pairs;
    PairKind m_kind = PairKind::CoActivation;
    QCPColorMap *m_map = nullptr;
    QCPColorScale *m_scale = nullptr;
    QCPTextElement *m_title = nullptr;
    QCPItemRect *m_row = nullptr;
    int m_expert = -1;
};

} // namespace moescope::ui
