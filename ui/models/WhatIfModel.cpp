#include "WhatIfModel.h"

#include "ExpertPalette.h"
#include "Format.h"

namespace moescope::ui {

WhatIfModel::WhatIfModel(QObject *parent) : QAbstractTableModel(parent) {}

void WhatIfModel::setRows(const DumpSnapshotPtr &snapshot, std::vector<WhatIfRow> rows)
{
    beginResetModel();
    m_snapshot = snapshot;
    m_rows = std::move(rows);
    endResetModel();
}

void WhatIfModel::clear()
{
    beginResetModel();
    m_rows.clear();
    endResetModel();
}

int WhatIfModel::rowCount(const QModelIndex &parent) const { return parent.isValid() ? 0 : int(m_rows.size()); }

int WhatIfModel::columnCount(const QModelIndex &parent) const { return parent.isValid() ? 0 : ColumnCount; }

QVariant WhatIfModel::data(const QModelIndex &index, int role) const
{
    if (!checkIndex(index, CheckIndexOption::IndexIsValid) || !m_snapshot)
        return {};
    const WhatIfRow &r = m_rows[std::size_t(index.row())];
    const int c = index.column();
    auto number = [&](int column) -> double {
        switch (column) {
        case DroppedBeforeColumn: return r.before.drops.droppedFraction;
        case DroppedAfterColumn: return r.after.drops.droppedFraction;
        case FullyDroppedAfterColumn: return r.after.drops.fullyDroppedFraction;
        case HotBeforeColumn: return double(r.before.load.hot.size());
        case HotAfterColumn: return double(r.after.load.hot.size());
        case ColdBeforeColumn: return double(r.before.load.cold.size());
        case ColdAfterColumn: return double(r.after.load.cold.size());
        case CvBeforeColumn: return r.before.load.cv;
        case CvAfterColumn: return r.after.load.cv;
        case AgreementColumn: return r.after.agreement.value_or(-1.0);
        case MaxVioWithoutBiasColumn: return r.maxVioWithoutBias.value_or(-1.0);
        case MaxVioWithBiasColumn: return r.maxVioWithBias.value_or(-1.0);
        case ExpertChoiceUnroutedColumn: return r.expertChoiceUnrouted.value_or(-1.0);
        default: return r.layer;
        }
    };
    switch (role) {
    case Qt::DisplayRole:
        switch (c) {
        case LayerColumn: return m_snapshot->layerName(r.layer);
        case DroppedBeforeColumn:
        case DroppedAfterColumn:
        case FullyDroppedAfterColumn: return formatPercent(number(c), 2);
        case CvBeforeColumn:
        case CvAfterColumn: return formatNumber(number(c), 3);
        case AgreementColumn: return r.after.agreement ? formatPercent(*r.after.agreement, 1) : QStringLiteral("-");
        case MaxVioWithoutBiasColumn:
        case MaxVioWithBiasColumn: return number(c) < 0 ? QStringLiteral("-") : formatNumber(number(c), 3);
        case ExpertChoiceUnroutedColumn:
            return r.expertChoiceUnrouted ? formatPercent(*r.expertChoiceUnrouted, 2) : QStringLiteral("-");
        default: return QString::number(int(number(c)));
        }
    case SortRole: return number(c);
    case LayerRole: return r.layer;
    case Qt::TextAlignmentRole:
        return c == LayerColumn ? int(Qt::AlignLeft | Qt::AlignVCenter) : int(Qt::AlignRight | Qt::AlignVCenter);
    case Qt::ForegroundRole: {
        // After-columns: green where the change helps, red where it hurts.
        auto compare = [&](double before, double after, bool lowerIsBetter) -> QVariant {
            if (std::abs(after - before) < 1e-12)
                return {};
            return (after < before) == lowerIsBetter ? QColor(0x1d, 0x7a, 0x32) : LoadColours::hot().darker(115);
        };
        switch (c) {
        case DroppedAfterColumn: return compare(number(DroppedBeforeColumn), number(c), true);
        case HotAfterColumn: return compare(number(HotBeforeColumn), number(c), true);
        case ColdAfterColumn: return compare(number(ColdBeforeColumn), number(c), true);
        case CvAfterColumn: return compare(number(CvBeforeColumn), number(c), true);
        case MaxVioWithBiasColumn:
            return r.maxVioWithBias ? compare(number(MaxVioWithoutBiasColumn), number(c), true) : QVariant();
        default: return {};
        }
    }
    default:
        return {};
    }
}

QVariant WhatIfModel::headerData(int section, Qt::Orientation orientation, int role) const
{
    if (orientation != Qt::Horizontal)
        return {};
    if (role == Qt::DisplayRole) {
        switch (section) {
        case LayerColumn: return tr("Layer");
        case DroppedBeforeColumn: return tr("Dropped\nbefore");
        case DroppedAfterColumn: return tr("Dropped\nafter");
        case FullyDroppedAfterColumn: return tr("Skipped\nafter");
        case HotBeforeColumn: return tr("Hot\nbefore");
        case HotAfterColumn: return tr("Hot\nafter");
        case ColdBeforeColumn: return tr("Cold\nbefore");
        case ColdAfterColumn: return tr("Cold\nafter");
        case CvBeforeColumn: return tr("CV\nbefore");
        case CvAfterColumn: return tr("CV\nafter");
        case AgreementColumn: return tr("Same\nexperts");
        case MaxVioWithoutBiasColumn: return tr("MaxVio\nno bias");
        case MaxVioWithBiasColumn: return tr("MaxVio\nbias");
        case ExpertChoiceUnroutedColumn: return tr("Unrouted\nexpert choice");
        default: return {};
        }
    }
    if (role == Qt::ToolTipRole) {
        switch (section) {
        case DroppedBeforeColumn: return tr("Assignments the capacity would drop with the dump's own choices");
        case DroppedAfterColumn: return tr("Assignments dropped after re-routing with these settings");
        case FullyDroppedAfterColumn: return tr("Tokens that lose all k assignments and skip the layer");
        case AgreementColumn: return tr("Tokens whose re-routed experts equal the recorded ones");
        case MaxVioWithoutBiasColumn:
            return tr("Bias balancing replay: MaxVio per batch without any bias, mean of the second half of the batches");
        case MaxVioWithBiasColumn:
            return tr("Bias balancing replay (DeepSeek-V3): MaxVio per batch with the simulated bias, mean of the "
                      "second half of the batches, once the bias has settled");
        case ExpertChoiceUnroutedColumn:
            return tr("Expert-choice routing (each expert takes its C best tokens by score): the share of tokens "
                      "that no expert takes");
        default: return {};
        }
    }
    return {};
}

} // namespace moescope::ui
