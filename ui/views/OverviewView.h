#pragma once
// The first thing users see: the layer x expert load heatmap above the table of each
// layer's health, worst layers tinted. A cell or a row selects a layer (and expert).
#include "DumpSnapshot.h"
#include "Selection.h"

#include <QWidget>

class QTableView;
class QSortFilterProxyModel;

namespace moescope::ui {

class LayerHealthModel;
class LoadHeatmapPlot;
class SelectionModel;

class OverviewView : public QWidget {
    Q_OBJECT
public:
    OverviewView(SelectionModel *selection, QWidget *parent = nullptr);

    // A full snapshot, or a partial one while a dump loads (its layers so far).
    void setSnapshot(const DumpSnapshotPtr &snapshot);
    DumpSnapshotPtr snapshot() const { return m_snapshot; }
    LoadHeatmapPlot *heatmap() const { return m_heatmap; }
    QTableView *healthTable() const { return m_table; }
    LayerHealthModel *healthModel() const { return m_model; }

private:
    void showSelection(const Selection &selection);
    bool showsPartial() const { return m_snapshot && m_snapshot->partial; }

    SelectionModel *m_selection;
    DumpSnapshotPtr m_snapshot;
    LoadHeatmapPlot *m_heatmap;
    LayerHealthModel *m_model;
    QSortFilterProxyModel *m_proxy;
    QTableView *m_table;
    bool m_syncing = false;
};

} // namespace moescope::ui
