#pragma once
// Expert-parallel placement of the open dump (docs/placement.md): two placements on R
// ranks, "before" and "after", drawn by PlacementCanvas. The placements (and the
// all-to-all, one pass over every layer's choices) are computed in the background;
// the chart follows the selected layer and outlines the selected expert, and clicking
// a rank's segment selects that expert everywhere.
#include "DumpSnapshot.h"
#include "PlacementComparison.h"

#include <QWidget>

#include <memory>

class QComboBox;
class QLabel;
class QSpinBox;

namespace moescope::ui {

class JobSlot;
class PlacementCanvas;
class SelectionModel;

class PlacementView : public QWidget {
    Q_OBJECT
public:
    PlacementView(SelectionModel *selection, QWidget *parent = nullptr);
    void setSnapshot(const DumpSnapshotPtr &snapshot);
    PlacementCanvas *canvas() const { return m_canvas; }
    JobSlot *job() const { return m_job; }
    // The settings the controls hold; setting them recomputes.
    PlacementRequest request() const;
    void setRequest(const PlacementRequest &request);
    QString statusText() const;

signals:
    void placed(); // a new comparison is on screen (tests wait for it)

private:
    void recompute();
    void showSelection();

    SelectionModel *m_selection;
    PlacementCanvas *m_canvas;
    QSpinBox *m_ranks, *m_redundant, *m_groups, *m_nodes;
    QComboBox *m_before, *m_after;
    QLabel *m_status;
    JobSlot *m_job;
    DumpSnapshotPtr m_snapshot;
    std::shared_ptr<const PlacementComparison> m_shown;
    bool m_settingRequest = false;
};

} // namespace moescope::ui
