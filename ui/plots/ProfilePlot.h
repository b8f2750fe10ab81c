#pragma once
// The selected expert's top tokens as horizontal bars (count), labelled with the
// token text and how faithfully the token goes to this expert (share).
#include "DumpSnapshot.h"
#include "PlotWidget.h"
#include "stats/ExpertProfile.h"

class QCPBars;
class QCPTextElement;

namespace moescope::ui {

// What the profile chart shows: one expert's profile (computed beforehand: it scans the
// dump's tokens) at a layer.
struct ProfileParameters {
    int layer = 0;
    ExpertProfile profile;
};

class ProfilePlot : public PlotWidget {
    Q_OBJECT
public:
    static constexpr int kTopTokens = 20;

    explicit ProfilePlot(QWidget *parent = nullptr);
    // The one way to set the chart: the window's view, `moescope export` and the report
    // all call it.
    void showChart(const DumpSnapshotPtr &snapshot, const ProfileParameters &parameters);
    void clear();

    QString chartName() const override { return QStringLiteral("profile"); }
    bool hasChartData() const override { return bool(m_snapshot); }
    QSize defaultExportSize() const override { return {900, 620}; }
    void writeCsv(QTextStream &out) const override;
    void renderChart(QPainter &painter, const QSize &size) override;

signals:
    void tokenClicked(qint64 tokenId);

protected:
    QString toolTipAt(const QPoint &pos) const override;
    void clickedAt(const QPoint &pos) override;
    void resizeEvent(QResizeEvent *event) override;

private:
    int rowAt(const QPoint &pos) const;
    // Shows as many of the top tokens as `height` pixels hold legibly.
    void fitRows(int height);

    DumpSnapshotPtr m_snapshot;
    int m_layer = -1;
    ExpertProfile m_profile;
    QCPBars *m_bars;
    QCPTextElement *m_title;
};

} // namespace moescope::ui
