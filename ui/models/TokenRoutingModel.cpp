#include "TokenRoutingModel.h"

#include "Format.h"
#include "analysis/TokenSearch.h"


namespace moescope::ui {

TokenRoutingModel::TokenRoutingModel(QObject *parent) : QAbstractTableModel(parent) {}

void TokenRoutingModel::setRoutes(const DumpSnapshotPtr &snapshot, std::vector<TokenRoute> routes)
{
    beginResetModel();
    m_snapshot = snapshot;
    m_routes = std::move(routes);
    endResetModel();
}

void TokenRoutingModel::clear()
{
    beginResetModel();
    m_routes.clear();
    endResetModel();
}

int TokenRoutingModel::rowCount(const QModelIndex &parent) const
{
    return parent.isValid() ? 0 : int(m_routes.size());
}

int TokenRoutingModel::columnCount(const QModelIndex &parent) const { return parent.isValid() ? 0 : ColumnCount; }

QVariant TokenRoutingModel::data(const QModelIndex &index, int role) const
{
    if (!checkIndex(index, CheckIndexOption::IndexIsValid) || !m_snapshot)
        return {};
    const TokenRoute &r = m_routes[std::size_t(index.row())];
    switch (role) {
    case Qt::DisplayRole:
        switch (index.column()) {
        case TokenColumn: return m_snapshot->tokenIdDisplay(r.tokenId);
        case LayerColumn: return m_snapshot->layerName(r.layer);
        case ExpertColumn: return QString::number(r.share.id);
        case CountColumn: return formatCount(r.share.count);
        case ShareColumn: return formatPercent(r.share.share);
        case LiftColumn: return formatNumber(r.share.lift, 2);
        default: return {};
        }
    case SortRole:
        switch (index.column()) {
        case TokenColumn: return m_snapshot->tokenIdDisplay(r.tokenId);
        case LayerColumn: return r.layer;
        case ExpertColumn: return qlonglong(r.share.id);
        case CountColumn: return qlonglong(r.share.count);
        case ShareColumn: return r.share.share;
        case LiftColumn: return r.share.lift;
        default: return {};
        }
    case LayerRole: return r.layer;
    case ExpertRole: return int(r.share.id);
    case TokenIdRole: return qlonglong(r.tokenId);
    case Qt::TextAlignmentRole:
        return index.column() == TokenColumn || index.column() == LayerColumn
                   ? int(Qt::AlignLeft | Qt::AlignVCenter)
                   : int(Qt::AlignRight | Qt::AlignVCenter);
    default:
        return {};
    }
}

QVariant TokenRoutingModel::headerData(int section, Qt::Orientation orientation, int role) const
{
    if (orientation != Qt::Horizontal || role != Qt::DisplayRole)
        return {};
    switch (section) {
    case TokenColumn: return tr("Token");
    case LayerColumn: return tr("Layer");
    case ExpertColumn: return tr("Expert");
    case CountColumn: return tr("Count");
    case ShareColumn: return tr("Share");
    case LiftColumn: return tr("Lift");
    default: return {};
    }
}

std::vector<std::int64_t> tokenIdsMatching(const DumpSnapshot &snapshot, const QString &query, int limit)
{
    const QString key = searchKey(query);
    std::vector<std::int64_t> ids;
    if (key.isEmpty())
        return ids;
    const auto &vocab = snapshot.analysis.vocab;
    if (vocab.empty()) {
        // Without a vocab tokens are shown as "#id"; let users type either form.
        bool ok = false;
        const qlonglong id = QString(key).remove(u'#').toLongLong(&ok);
        if (ok)
            ids.push_back(id);
        return ids;
    }
    for (Qt::CaseSensitivity cs : {Qt::CaseSensitive, Qt::CaseInsensitive}) {
        for (std::size_t v = 0; v < vocab.size() && int(ids.size()) < limit; ++v)
            if (searchKey(QString::fromStdString(vocab[v])).compare(key, cs) == 0)
                ids.push_back(std::int64_t(v));
        if (!ids.empty())
            break;
    }
    return ids;
}

std::vector<TokenRoute> routesOfTokens(const DumpSnapshot &snapshot, const std::vector<std::int64_t> &tokenIds,
                                       const Progress &progress)
{
    const auto answers = routingOfTokensAtEveryLayer(snapshot.analysis, snapshot.tokenPositions(), tokenIds, progress);
    std::vector<TokenRoute> routes;
    for (std::size_t l = 0; l < answers.size(); ++l)
        for (std::size_t t = 0; t < tokenIds.size(); ++t)
            for (const TokenShare &s : answers[l][t])
                routes.push_back({tokenIds[t], int(l), s});
    return routes;
}

} // namespace moescope::ui
