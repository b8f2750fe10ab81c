#pragma once
// Training health: the /training curves and load heatmap, following the selected
// layer; a note instead when the dump has no /training group.
#include "DumpSnapshot.h"

#include <QWidget>

class QStackedWidget;
class QLabel;

namespace moescope::ui {

class SelectionModel;
class TrainingPlot;

class TrainingView : public QWidget {
    Q_OBJECT
public:
    TrainingView(SelectionModel *selection, QWidget *parent = nullptr);
    void setSnapshot(const DumpSnapshotPtr &snapshot);
    TrainingPlot *plot() const { return m_plot; }

private:
    void showChart(); // the plot follows the snapshot and the selection

    DumpSnapshotPtr m_snapshot;
    SelectionModel *m_selection;
    TrainingPlot *m_plot;
    QLabel *m_empty;
    QStackedWidget *m_stack;
};

} // namespace moescope::ui
