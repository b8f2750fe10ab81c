#pragma once
// The what-if comparison: per layer, the recorded routing ("before", the dump's own
// choices under the same capacity) against the re-routed one ("after").
#include "DumpSnapshot.h"

#include <QAbstractTableModel>

#include <optional>

namespace moescope::ui {

struct WhatIfRow {
    int layer = 0;
    LayerReport before, after;
    // Bias balancing replay (when asked for): steady-state MaxVio without and with
    // the simulated auxiliary-loss-free bias.
    std::optional<double> maxVioWithoutBias, maxVioWithBias;
    // Expert-choice routing (when asked for): the share of valid tokens no expert took.
    std::optional<double> expertChoiceUnrouted;
};

class WhatIfModel : public QAbstractTableModel {
    Q_OBJECT
public:
    enum Column { LayerColumn, DroppedBeforeColumn, DroppedAfterColumn, FullyDroppedAfterColumn, HotBeforeColumn,
                  HotAfterColumn, ColdBeforeColumn, ColdAfterColumn, CvBeforeColumn, CvAfterColumn,
                  AgreementColumn, MaxVioWithoutBiasColumn, MaxVioWithBiasColumn, ExpertChoiceUnroutedColumn,
                  ColumnCount };
    enum Role { SortRole = Qt::UserRole, LayerRole };
    static constexpr int InitialSortColumn = LayerColumn;

    explicit WhatIfModel(QObject *parent = nullptr);
    void setRows(const DumpSnapshotPtr &snapshot, std::vector<WhatIfRow> rows);
    void clear();
    const std::vector<WhatIfRow> &rows() const { return m_rows; }

    int rowCount(const QModelIndex &parent = {}) const override;
    int columnCount(const QModelIndex &parent = {}) const override;
    QVariant data(const QModelIndex &index, int role = Qt::DisplayRole) const override;
    QVariant headerData(int section, Qt::Orientation orientation, int role = Qt::DisplayRole) const override;

private:
    DumpSnapshotPtr m_snapshot;
    std::vector<WhatIfRow> m_rows;
};

} // namespace moescope::ui
