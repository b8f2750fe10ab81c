#include "TokenRoutingModel.h"

#include "Format.h"

#include <algorithm>
#include <unordered_map>

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
    // One scan of each layer for all the ids at once (routingOfToken would scan the
    // layer once per id); the formulas are routing.md's, as in routingOfToken.
    std::vector<TokenRoute> routes;
    const auto &a = snapshot.analysis;
    const std::size_t L = a.passes.size(), n = tokenIds.size();
    std::unordered_map<std::int64_t, std::size_t> slot;
    for (std::size_t i = 0; i < n; ++i)
        slot.emplace(tokenIds[i], i);
    for (std::size_t l = 0; l < L; ++l) {
        progress.checkCancelled();
        const LayerChoices &c = a.passes[l].choices;
        const std::size_t E = std::size_t(c.numExperts), k = std::size_t(c.topK);
        const std::vector<std::int64_t> counts = c.counts();
        std::vector<std::int64_t> routed(n * E, 0), occurrences(n, 0);
        std::int64_t T = 0;
        for (std::int64_t t = 0; t < c.numPositions(); ++t) {
            if (!c.valid[std::size_t(t)])
                continue;
            ++T;
            const auto it = slot.find(a.tokenIds[std::size_t(t)]);
            if (it == slot.end())
                continue;
            ++occurrences[it->second];
            const std::int32_t *ids = c.ids.data() + std::size_t(t) * k;
            for (std::size_t j = 0; j < k; ++j)
                // A repeated id in one row counts once, as in LayerChoices::counts.
                if (std::find(ids, ids + j, ids[j]) == ids + j)
                    ++routed[it->second * E + std::size_t(ids[j])];
        }
        for (std::size_t i = 0; i < n; ++i)
            for (std::size_t e = 0; e < E; ++e) {
                const std::int64_t r = routed[i * E + e];
                if (r == 0)
                    continue;
                const double share = double(r) / double(occurrences[i]);
                const double lift = (double(r) / double(counts[e])) / (double(occurrences[i]) / double(T));
                routes.push_back({tokenIds[i], int(l), {std::int64_t(e), r, share, lift}});
            }
        progress.report(double(l + 1) / double(L));
    }
    return routes;
}

} // namespace moescope::ui
