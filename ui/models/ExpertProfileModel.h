#pragma once
// What one expert at one layer receives (routing.md "Specialisation"): one row per
// token id with its count, share (how faithfully the token goes there) and lift (how
// over-represented it is there). Sorting and the text filter are left to a
// QSortFilterProxyModel; SortRole gives numbers, SearchRole the text users type.
#include "DumpSnapshot.h"
#include "stats/ExpertProfile.h"

#include <QAbstractTableModel>
#include <QSortFilterProxyModel>

namespace moescope::ui {

class ExpertProfileModel : public QAbstractTableModel {
    Q_OBJECT
public:
    enum Column { TokenColumn, IdColumn, CountColumn, ShareColumn, LiftColumn, ColumnCount };
    enum Role { SortRole = Qt::UserRole, TokenIdRole, SearchRole };
    static constexpr int InitialSortColumn = CountColumn;

    explicit ExpertProfileModel(QObject *parent = nullptr);
    // Each row's token as shown and as searched.
    struct RowTexts {
        std::vector<QString> display, search;
    };
    // The row texts of `profile`. Thread-safe: made on the worker that computes the
    // profile, as a busy expert receives tens of thousands of ids.
    static RowTexts rowTexts(const DumpSnapshot &snapshot, const ExpertProfile &profile);

    void setProfile(const DumpSnapshotPtr &snapshot, int layer, ExpertProfile profile);
    // The same with the rows' texts made beforehand (rowTexts).
    void setProfile(const DumpSnapshotPtr &snapshot, int layer, ExpertProfile profile, RowTexts texts);
    // Whether row a sorts before row b in `column` by SortRole, as QSortFilterProxyModel
    // compares SortRole's values (strings case-sensitively), without making them.
    bool sortsBefore(int a, int b, int column) const;
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
    RowTexts m_texts; // per row, made once
};

// The proxy of the profile's table: sorts by SortRole through sortsBefore (tens of
// thousands of rows sorted through QVariants took tens of milliseconds per profile).
class ExpertProfileProxy : public QSortFilterProxyModel {
    Q_OBJECT
public:
    using QSortFilterProxyModel::QSortFilterProxyModel;

protected:
    bool lessThan(const QModelIndex &left, const QModelIndex &right) const override;
};

} // namespace moescope::ui
