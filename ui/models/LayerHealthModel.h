#pragma once
// The health of every layer (routing.md "Load" and "Losses"), one row per layer, for
// the overview table and the report. Each metric also gets a severity in [0, 1] so
// the worst layers stand out (cell tint) and sort first (Health column).
#include "DumpSnapshot.h"

#include <QAbstractTableModel>

namespace moescope::ui {

class LayerHealthModel : public QAbstractTableModel {
    Q_OBJECT
public:
    enum Column { LayerColumn, HealthColumn, CvColumn, MaxVioColumn, EntropyColumn, LbLossColumn, ZLossColumn,
                  DroppedColumn, InvalidColumn, HotColumn, ColdColumn, ColumnCount };
    enum Role { SortRole = Qt::UserRole, LayerRole, SeverityRole };
    static constexpr int InitialSortColumn = LayerColumn;

    explicit LayerHealthModel(QObject *parent = nullptr);
    void setSnapshot(const DumpSnapshotPtr &snapshot);

    int rowCount(const QModelIndex &parent = {}) const override;
    int columnCount(const QModelIndex &parent = {}) const override;
    QVariant data(const QModelIndex &index, int role = Qt::DisplayRole) const override;
    QVariant headerData(int section, Qt::Orientation orientation, int role = Qt::DisplayRole) const override;

    // Severity of a metric of one layer, 0 (healthy) to 1 (alarming); the Health
    // column is the largest of them. zLossMedian scales the z-loss, which has no
    // absolute yardstick.
    static double severity(const LayerReport &layer, int column, int topK, double zLossMedian);
    // The text of a cell, shared with the PDF report.
    static QString cellText(const DumpSnapshot &snapshot, int layer, int column);
    static QString columnTitle(int column);

private:
    DumpSnapshotPtr m_snapshot;
    double m_zLossMedian = 0;
};

} // namespace moescope::ui
