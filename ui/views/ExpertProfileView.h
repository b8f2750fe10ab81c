#pragma once
// What the selected expert learned: its top tokens (chart), every token it receives
// (sortable table), and a search box that filters the table and also answers the
// reverse question: for the typed token, which experts at which layers receive it and
// how faithfully. Profiles and reverse searches run in the background.
#include "DumpSnapshot.h"
#include "Selection.h"

#include <QWidget>

class QLabel;
class QLineEdit;
class QSortFilterProxyModel;
class QTableView;
class QTimer;

namespace moescope::ui {

class ExpertProfileModel;
class JobSlot;
class ProfilePlot;
class SelectionModel;
class TokenRoutingModel;

class ExpertProfileView : public QWidget {
    Q_OBJECT
public:
    static constexpr int kSearchDelayMs = 300;

    ExpertProfileView(SelectionModel *selection, QWidget *parent = nullptr);
    void setSnapshot(const DumpSnapshotPtr &snapshot);

    ProfilePlot *plot() const { return m_plot; }
    QLineEdit *searchBox() const { return m_search; }
    QTableView *profileTable() const { return m_table; }
    QTableView *routesTable() const { return m_routesTable; }
    ExpertProfileModel *profileModel() const { return m_model; }
    QSortFilterProxyModel *profileProxy() const { return m_proxy; }
    TokenRoutingModel *routesModel() const { return m_routes; }
    JobSlot *profileJob() const { return m_profileJob; }
    JobSlot *searchJob() const { return m_searchJob; }

signals:
    void profileShown(int layer, int expert);
    void searchAnswered(const QString &query);

private:
    void requestProfile();
    void applySearch();

    SelectionModel *m_selection;
    DumpSnapshotPtr m_snapshot;
    QLabel *m_title;
    QLineEdit *m_search;
    ProfilePlot *m_plot;
    ExpertProfileModel *m_model;
    QSortFilterProxyModel *m_proxy;
    QTableView *m_table;
    QLabel *m_routesTitle;
    TokenRoutingModel *m_routes;
    QSortFilterProxyModel *m_routesProxy;
    QTableView *m_routesTable;
    QTimer *m_searchTimer;
    JobSlot *m_profileJob;
    JobSlot *m_searchJob;
    int m_shownLayer = -1, m_shownExpert = -1;
    bool m_syncing = false;
};

} // namespace moescope::ui
