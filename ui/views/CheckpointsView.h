#pragma once
// Checkpoints of one run side by side: the layer x checkpoint saturation heatmap, the
// selected expert's load and Jaccard across checkpoints, and the per-expert load
// change of the chosen checkpoint. The layer and expert are the window's shared
// selection; choosing a checkpoint (its column, or the list) asks the window to show
// that dump in every other view, keeping the layer and expert.
#include "CheckpointSeries.h"
#include "DumpSnapshot.h"

#include <QStringList>
#include <QWidget>

class QComboBox;
class QLabel;
class QPushButton;

namespace moescope::ui {

class CheckpointExpertPlot;
class JobSlot;
class LoadChangePlot;
class SaturationPlot;
class SelectionModel;

class CheckpointsView : public QWidget {
    Q_OBJECT
public:
    CheckpointsView(SelectionModel *selection, QWidget *parent = nullptr);

    // Compares the files in the background; the result replaces the one shown.
    void compare(const QStringList &paths);
    // Shows a comparison already made (tests, export).
    void setComparison(const CheckpointComparisonPtr &comparison);
    CheckpointComparisonPtr comparison() const { return m_comparison; }
    // The checkpoint whose load change is shown (index into the files).
    int checkpoint() const { return m_checkpoint; }
    void setCheckpoint(int checkpoint);
    // The dump the window shows: its column is the one chosen, if it is in the series.
    // The dump the other views show: the selected layer is matched to the series by
    // its name, and its column is the chosen one when it belongs to the series.
    void setSnapshot(const DumpSnapshotPtr &snapshot);
    JobSlot *job() const { return m_job; }
    SaturationPlot *saturation() const { return m_saturation; }
    CheckpointExpertPlot *expertPlot() const { return m_expert; }
    LoadChangePlot *loadChange() const { return m_loadChange; }

signals:
    // The user chose a checkpoint to look at: show this dump everywhere else.
    void checkpointChosen(const QString &path);
    void comparisonFailed(const QString &message);
    void comparisonShown();

private:
    void showCharts();
    int seriesLayer() const;                 // the selected layer in the series (by name), else 0
    int snapshotLayer(int seriesLayer) const; // and back, for a click on a row

    SelectionModel *m_selection;
    JobSlot *m_job;
    CheckpointComparisonPtr m_comparison;
    int m_checkpoint = -1;
    DumpSnapshotPtr m_snapshot;
    QComboBox *m_checkpoints;
    QPushButton *m_show;
    QLabel *m_summary;
    SaturationPlot *m_saturation;
    CheckpointExpertPlot *m_expert;
    LoadChangePlot *m_loadChange;
};

} // namespace moescope::ui
