#include "ExpertProfileModel.h"

#include "Format.h"

namespace moescope::ui {

ExpertProfileModel::ExpertProfileModel(QObject *parent) : QAbstractTableModel(parent) {}

ExpertProfileModel::RowTexts ExpertProfileModel::rowTexts(const DumpSnapshot &snapshot, const ExpertProfile &profile)
{
    RowTexts texts;
    texts.display.reserve(profile.tokens.size());
    texts.search.reserve(profile.tokens.size());
    for (const TokenShare &t : profile.tokens) {
        texts.display.push_back(snapshot.tokenIdDisplay(t.id));
        texts.search.push_back(searchKey(QString::fromStdString(tokenText(snapshot.analysis.vocab, t.id))));
    }
    return texts;
}

void ExpertProfileModel::setProfile(const DumpSnapshotPtr &snapshot, int layer, ExpertProfile profile)
{
    RowTexts texts = rowTexts(*snapshot, profile);
    setProfile(snapshot, layer, std::move(profile), std::move(texts));
}

void ExpertProfileModel::setProfile(const DumpSnapshotPtr &snapshot, int layer, ExpertProfile profile, RowTexts texts)
{
    beginResetModel();
    m_snapshot = snapshot;
    m_layer = layer;
    m_profile = std::move(profile);
    m_texts = std::move(texts);
    endResetModel();
}

void ExpertProfileModel::clear()
{
    beginResetModel();
    m_snapshot.reset();
    m_layer = -1;
    m_profile = {};
    m_texts = {};
    endResetModel();
}

int ExpertProfileModel::rowCount(const QModelIndex &parent) const
{
    return parent.isValid() ? 0 : int(m_profile.tokens.size());
}

int ExpertProfileModel::columnCount(const QModelIndex &parent) const { return parent.isValid() ? 0 : ColumnCount; }

QVariant ExpertProfileModel::data(const QModelIndex &index, int role) const
{
    if (!checkIndex(index, CheckIndexOption::IndexIsValid))
        return {};
    const TokenShare &t = m_profile.tokens[std::size_t(index.row())];
    switch (role) {
    case Qt::DisplayRole:
        switch (index.column()) {
        case TokenColumn: return m_texts.display[std::size_t(index.row())];
        case IdColumn: return QString::number(t.id);
        case CountColumn: return formatCount(t.count);
        case ShareColumn: return formatPercent(t.share);
        case LiftColumn: return formatNumber(t.lift, 2);
        default: return {};
        }
    case SortRole:
        switch (index.column()) {
        case TokenColumn: return m_texts.display[std::size_t(index.row())];
        case IdColumn: return qlonglong(t.id);
        case CountColumn: return qlonglong(t.count);
        case ShareColumn: return t.share;
        case LiftColumn: return t.lift;
        default: return {};
        }
    case SearchRole:
        return m_texts.search[std::size_t(index.row())];
    case TokenIdRole:
        return qlonglong(t.id);
    case Qt::TextAlignmentRole:
        return index.column() == TokenColumn ? int(Qt::AlignLeft | Qt::AlignVCenter)
                                             : int(Qt::AlignRight | Qt::AlignVCenter);
    case Qt::ToolTipRole:
        return tr("%1 of the %2 occurrences of this token go to this expert; it is %3x more frequent here than "
                  "in the whole dump")
            .arg(formatCount(t.count), formatCount(t.share > 0 ? std::int64_t(double(t.count) / t.share + 0.5) : 0),
                 formatNumber(t.lift, 2));
    default:
        return {};
    }
}

bool ExpertProfileModel::sortsBefore(int a, int b, int column) const
{
    const TokenShare &x = m_profile.tokens[std::size_t(a)], &y = m_profile.tokens[std::size_t(b)];
    switch (column) {
    case TokenColumn: return m_texts.display[std::size_t(a)].compare(m_texts.display[std::size_t(b)]) < 0;
    case IdColumn: return x.id < y.id;
    case CountColumn: return x.count < y.count;
    case ShareColumn: return x.share < y.share;
    case LiftColumn: return x.lift < y.lift;
    default: return false;
    }
}

bool ExpertProfileProxy::lessThan(const QModelIndex &left, const QModelIndex &right) const
{
    const auto *model = qobject_cast<const ExpertProfileModel *>(sourceModel());
    if (!model || sortRole() != ExpertProfileModel::SortRole || isSortLocaleAware() ||
        sortCaseSensitivity() != Qt::CaseSensitive || left.column() != right.column())
        return QSortFilterProxyModel::lessThan(left, right);
    return model->sortsBefore(left.row(), right.row(), left.column());
}

QVariant ExpertProfileModel::headerData(int section, Qt::Orientation orientation, int role) const
{
    if (orientation != Qt::Horizontal)
        return {};
    if (role == Qt::DisplayRole) {
        switch (section) {
        case TokenColumn: return tr("Token");
        case IdColumn: return tr("Id");
        case CountColumn: return tr("Count");
        case ShareColumn: return tr("Share");
        case LiftColumn: return tr("Lift");
        default: return {};
        }
    }
    if (role == Qt::ToolTipRole) {
        switch (section) {
        case CountColumn: return tr("Occurrences of the token routed to this expert");
        case ShareColumn: return tr("Of all occurrences of the token, the share routed here (how faithfully)");
        case LiftColumn: return tr("How over-represented the token is at this expert (1 = as in the dump)");
        default: return {};
        }
    }
    return {};
}

} // namespace moescope::ui
