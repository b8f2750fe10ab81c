#include "LayerHealthModel.h"

#include "Format.h"

#include <QColor>

#include <algorithm>
#include <cmath>

namespace moescope::ui {

namespace {
double clamp01(double v) { return std::isnan(v) ? 0.0 : std::clamp(v, 0.0, 1.0); }

double medianZLoss(const DumpReport &report)
{
    std::vector<double> z;
    for (const LayerReport &l : report.layers)
        if (l.zLoss)
            z.push_back(*l.zLoss);
    if (z.empty())
        return 0;
    std::nth_element(z.begin(), z.begin() + std::ptrdiff_t(z.size() / 2), z.end());
    return z[z.size() / 2];
}
} // namespace

LayerHealthModel::LayerHealthModel(QObject *parent) : QAbstractTableModel(parent) {}

void LayerHealthModel::setSnapshot(const DumpSnapshotPtr &snapshot)
{
    beginResetModel();
    m_snapshot = snapshot;
    m_zLossMedian = snapshot ? medianZLoss(snapshot->analysis.report) : 0;
    endResetModel();
}

int LayerHealthModel::rowCount(const QModelIndex &parent) const
{
    return parent.isValid() || !m_snapshot ? 0 : m_snapshot->numLayers();
}

int LayerHealthModel::columnCount(const QModelIndex &parent) const { return parent.isValid() ? 0 : ColumnCount; }

double LayerHealthModel::severity(const LayerReport &l, int column, int topK, double zLossMedian)
{
    switch (column) {
    case CvColumn: return clamp01(l.load.cv / 1.0);
    case MaxVioColumn: return clamp01(l.load.maxVio / 3.0);
    case EntropyColumn: return clamp01((1.0 - l.load.entropy) / 0.3);
    case LbLossColumn: return l.lbLoss && topK > 0 ? clamp01((*l.lbLoss / topK - 1.0) / 1.0) : 0.0;
    case ZLossColumn:
        return l.zLoss && zLossMedian > 0 ? clamp01((*l.zLoss / zLossMedian - 1.5) / 2.0) : 0.0;
    case DroppedColumn: return clamp01(l.drops.droppedFraction / 0.1);
    case InvalidColumn: return l.invalidTokens > 0 ? 1.0 : 0.0;
    case ColdColumn: return l.counts.empty() ? 0.0 : clamp01(4.0 * double(l.load.cold.size()) / l.counts.size());
    case HealthColumn: {
        double worst = 0;
        for (int c : {CvColumn, MaxVioColumn, EntropyColumn, LbLossColumn, ZLossColumn, DroppedColumn,
                      InvalidColumn, ColdColumn})
            worst = std::max(worst, severity(l, c, topK, zLossMedian));
        return worst;
    }
    default: return 0.0;
    }
}

QString LayerHealthModel::columnTitle(int column)
{
    switch (column) {
    case LayerColumn: return tr("Layer");
    case HealthColumn: return tr("Health");
    case CvColumn: return tr("CV");
    case MaxVioColumn: return tr("MaxVio");
    case EntropyColumn: return tr("Entropy");
    case LbLossColumn: return tr("LB loss");
    case ZLossColumn: return tr("Z-loss");
    case DroppedColumn: return tr("Dropped");
    case InvalidColumn: return tr("Invalid");
    case HotColumn: return tr("Hot");
    case ColdColumn: return tr("Cold");
    default: return {};
    }
}

QString LayerHealthModel::cellText(const DumpSnapshot &snapshot, int layer, int column)
{
    const LayerReport &l = snapshot.analysis.report.layers.at(std::size_t(layer));
    switch (column) {
    case LayerColumn: return snapshot.layerName(layer);
    case HealthColumn: {
        const double s = severity(l, HealthColumn, snapshot.analysis.report.topK, medianZLoss(snapshot.analysis.report));
        return s >= 0.75 ? tr("Bad") : s >= 0.35 ? tr("Watch") : tr("OK");
    }
    case CvColumn: return formatNumber(l.load.cv, 3);
    case MaxVioColumn: return formatNumber(l.load.maxVio, 2);
    case EntropyColumn: return formatNumber(l.load.entropy, 3);
    case LbLossColumn: return l.lbLoss ? formatNumber(*l.lbLoss, 3) : QStringLiteral("-");
    case ZLossColumn: return l.zLoss ? formatNumber(*l.zLoss, 3) : QStringLiteral("-");
    case DroppedColumn: return formatPercent(l.drops.droppedFraction, 2);
    case InvalidColumn: return formatCount(l.invalidTokens);
    case HotColumn: return QString::number(l.load.hot.size());
    case ColdColumn: return QString::number(l.load.cold.size());
    default: return {};
    }
}

QVariant LayerHealthModel::data(const QModelIndex &index, int role) const
{
    if (!m_snapshot || !checkIndex(index, CheckIndexOption::IndexIsValid))
        return {};
    const int row = index.row(), column = index.column();
    const LayerReport &l = m_snapshot->analysis.report.layers[std::size_t(row)];
    const int topK = m_snapshot->analysis.report.topK;
    switch (role) {
    case Qt::DisplayRole:
        return cellText(*m_snapshot, row, column);
    case SortRole:
        switch (column) {
        case LayerColumn: return row;
        case HealthColumn: return severity(l, HealthColumn, topK, m_zLossMedian);
        case CvColumn: return l.load.cv;
        case MaxVioColumn: return l.load.maxVio;
        case EntropyColumn: return l.load.entropy;
        case LbLossColumn: return l.lbLoss.value_or(-1.0);
        case ZLossColumn: return l.zLoss.value_or(-1.0);
        case DroppedColumn: return l.drops.droppedFraction;
        case InvalidColumn: return qlonglong(l.invalidTokens);
        case HotColumn: return int(l.load.hot.size());
        case ColdColumn: return int(l.load.cold.size());
        default: return {};
        }
    case LayerRole:
        return row;
    case SeverityRole:
        return severity(l, column, topK, m_zLossMedian);
    case Qt::BackgroundRole: {
        const double s = severity(l, column, topK, m_zLossMedian);
        if (s < 0.2)
            return {};
        // Amber to red as a metric worsens; translucent so the selection shows through.
        QColor c = s >= 0.75 ? QColor(0xe0, 0x4b, 0x3a) : QColor(0xf0, 0xa2, 0x2e);
        c.setAlphaF(float(0.18 + 0.32 * s));
        return c;
    }
    case Qt::TextAlignmentRole:
        return column == LayerColumn ? int(Qt::AlignLeft | Qt::AlignVCenter) : int(Qt::AlignRight | Qt::AlignVCenter);
    case Qt::ToolTipRole:
        if (column == HealthColumn)
            return tr("Worst of the layer's metrics: %1 (0 healthy, 1 alarming)")
                .arg(formatNumber(severity(l, HealthColumn, topK, m_zLossMedian), 2));
        if (column == HotColumn && !l.load.hot.empty())
            return tr("%n hot expert(s) above CF x mean", "", int(l.load.hot.size()));
        return {};
    default:
        return {};
    }
}

QVariant LayerHealthModel::headerData(int section, Qt::Orientation orientation, int role) const
{
    if (orientation != Qt::Horizontal || section < 0 || section >= ColumnCount)
        return {};
    if (role == Qt::DisplayRole)
        return columnTitle(section);
    if (role == Qt::ToolTipRole) {
        switch (section) {
        case HealthColumn: return tr("OK, Watch or Bad: the worst of this layer's metrics");
        case CvColumn: return tr("Coefficient of variation of the expert loads: std / mean (0 = balanced)");
        case MaxVioColumn: return tr("(max load - mean) / mean");
        case EntropyColumn: return tr("Normalised entropy of the utilization shares (1 = balanced)");
        case LbLossColumn: return tr("Switch load-balancing loss; k for a perfectly balanced router");
        case ZLossColumn: return tr("ST-MoE router z-loss: mean squared logsumexp of the logits");
        case DroppedColumn: return tr("Assignments the capacity factor would drop (token order)");
        case InvalidColumn: return tr("Tokens with NaN or infinite logits, left out of every statistic");
        case HotColumn: return tr("Experts above CF x mean load");
        case ColdColumn: return tr("Experts below 0.1 x mean load");
        default: return {};
        }
    }
    return {};
}

} // namespace moescope::ui
