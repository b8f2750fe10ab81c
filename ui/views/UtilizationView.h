#pragma once
// The selected layer's utilization histogram with its controls (order by load).
#include "DumpSnapshot.h"

#include <QWidget>

class QCheckBox;

namespace moescope::ui {

class SelectionModel;
class UtilizationPlot;

class UtilizationView : public QWidget {
    Q_OBJECT
public:
    UtilizationView(SelectionModel *selection, QWidget *parent = nullptr);
    void setSnapshot(const DumpSnapshotPtr &snapshot);
    UtilizationPlot *plot() const { return m_plot; }

private:
    void showChart(); // the plot follows the snapshot, the selection and the checkbox

    DumpSnapshotPtr m_snapshot;
    SelectionModel *m_selection;
    UtilizationPlot *m_plot;
    QCheckBox *m_sorted;
};

} // namespace moescope::ui
