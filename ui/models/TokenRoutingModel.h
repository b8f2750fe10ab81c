#pragma once
// The reverse question of the profile: where do the tokens matching a search go?
// One row per (token id, layer, expert) that receives it, with how faithfully
// (share of the token's occurrences) and the lift there.
#include "DumpSnapshot.h"
#include "stats/ExpertProfile.h"

#include <QAbstractTableModel>

namespace moescope::ui {

struct TokenRoute {
    std::int64_t tokenId = 0;
    int layer = 0;
    TokenShare share; // share.id holds the expert
};

class TokenRoutingModel : public QAbstractTableModel {
    Q_OBJECT
public:
    enum Column { TokenColumn, LayerColumn, ExpertColumn, CountColumn, ShareColumn, LiftColumn, ColumnCount };
    enum Role { SortRole = Qt::UserRole, LayerRole, ExpertRole, TokenIdRole };
    static constexpr int InitialSortColumn = ShareColumn;

    explicit TokenRoutingModel(QObject *parent = nullptr);
    void setRoutes(const DumpSnapshotPtr &snapshot, std::vector<TokenRoute> routes);
    void clear();
    const std::vector<TokenRoute> &routes() const { return m_routes; }

    int rowCount(const QModelIndex &parent = {}) const override;
    int columnCount(const QModelIndex &parent = {}) const override;
    QVariant data(const QModelIndex &index, int role = Qt::DisplayRole) const override;
    QVariant headerData(int section, Qt::Orientation orientation, int role = Qt::DisplayRole) const override;

private:
    DumpSnapshotPtr m_snapshot;
    std::vector<TokenRoute> m_routes;
};

// The token ids whose text matches `query` as users type it (searchKey equality,
// case-sensitive first; case-insensitive when nothing matches exactly), at most
// `limit` of them.
std::vector<std::int64_t> tokenIdsMatching(const DumpSnapshot &snapshot, const QString &query, int limit = 16);
// Every (layer, expert) each token goes to: core's routingOfTokensAtEveryLayer, from
// the tokens' positions (layers in order, then the ids as given, experts ascending).
// Reads the stretches of layers not in memory that hold the tokens; call from a
// background job on big dumps.
std::vector<TokenRoute> routesOfTokens(const DumpSnapshot &snapshot, const std::vector<std::int64_t> &tokenIds,
                                       const Progress &progress = {});

} // namespace moescope::ui
