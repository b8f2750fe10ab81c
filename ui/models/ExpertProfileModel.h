#pragma once
// What one expert at one layer receives (routing.md "Specialisation"): one row per
// token id with its count, share (how faithfully the token goes there) and lift (how
// over-represented it is there). Sorting and the text filter are left to a
// QSortFilterProxyModel; SortRole gives numbers, SearchRole the text users type.
#include "DumpSnapshot.h"
#include "stats/ExpertProfile.h"

#include <QAbstractTableModel>

namespace moescope::ui {

class ExpertProfileModel : public QAbstractTableModel {
    Q_OBJECT
public:
    enum Column { TokenColumn, IdColumn, CountColumn, ShareColumn, LiftColumn, ColumnCount };
    enum Role { SortRole = Qt::UserRole, TokenIdRole, SearchRole };
    static constexpr int InitialSortColumn = CountColumn;

    explicit ExpertProfileModel(QObject *parent = nullptr);
    void setProfile(const DumpSnapshotPtr &snapshot, int layer, ExpertProfile profile);
    // The same with the rows' texts (displayTexts) made beforehand, e.g. on the worker
    // thread that computed the profile: a busy expert receives tens of thousands of ids.
    void setProfile(const DumpSnapshotPtr &snapshot, int layer, ExpertProfile profile, std::vector<QString> texts);
    // The display text of each row of `profile`. Thread-safe.
    static std::vector<QString> displayTexts(const DumpSnapshot &snapshot, const ExpertProfile &profile);
    void clear();
    const ExpertProfile &profile() const { return m_profile; }
    int layer() const { return m_layer; }

    int rowCount(const QModelIndex &parent = {}) const override;
    int columnCount(const QModelIndex &parent = {}) const override;
    QVariant data(const QModelIndex &index, int role = Qt::DisplayRole) const override;
    QVariant headerData(int section, Qt::Orientation orientation, int role = Qt::DisplayRole) const override;

private:
    DumpSnapshotPtr m_snapshot;
    int m_layer = -1;
    ExpertProfile m_profile;
    std::vector<QString> m_texts; // display text per row, made once
};

} // namespace moescope::ui
