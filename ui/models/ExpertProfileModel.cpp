#include "ExpertProfileModel.h"

#include "Format.h"

namespace moescope::ui {

ExpertProfileModel::ExpertProfileModel(QObject *parent) : QAbstractTableModel(parent) {}

std::vector<QString> ExpertProfileModel::displayTexts(const DumpSnapshot &snapshot, const ExpertProfile &profile)
{
    std::vector<QString> texts;
    texts.reserve(profile.tokens.size());
    for (const TokenShare &t : profile.tokens)
        texts.push_back(snapshot.tokenIdDisplay(t.id));
    return texts;
}

void ExpertProfileModel::setProfile(const DumpSnapshotPtr &snapshot, int layer, ExpertProfile profile)
{
    std::vector<QString> texts = displayTexts(*snapshot, profile);
    setProfile(snapshot, layer, std::move(profile), std::move(texts));
}

void ExpertProfileModel::setProfile(const DumpSnapshotPtr &snapshot, int layer, ExpertProfile profile,
                                    std::vector<QString> texts)
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
    m_texts.clear();
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
        case TokenColumn: return m_texts[std::size_t(index.row())];
        case IdColumn: return QString::number(t.id);
        case CountColumn: return formatCount(t.count);
        case ShareColumn: return formatPercent(t.share);
        case LiftColumn: return formatNumber(t.lift, 2);
        default: return {};
        }
    case SortRole:
        switch (index.column()) {
        case TokenColumn: return m_texts[std::size_t(index.row())];
        case IdColumn: return qlonglong(t.id);
        case CountColumn: return qlonglong(t.count);
        case ShareColumn: return t.share;
        case LiftColumn: return t.lift;
        default: return {};
        }
    case SearchRole:
        return m_snapshot ? searchKey(QString::fromStdString(tokenText(m_snapshot->analysis.vocab, t.id))) : QString();
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
