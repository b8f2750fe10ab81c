#include "OverviewView.h"

#include "SelectionModel.h"
#include "models/LayerHealthModel.h"
#include "plots/LoadHeatmapPlot.h"

#include <QHeaderView>
#include <QItemSelectionModel>
#include <QSortFilterProxyModel>
#include <QSplitter>
#include <QTableView>
#include <QVBoxLayout>

namespace moescope::ui {

OverviewView::OverviewView(SelectionModel *selection, QWidget *parent)
    : QWidget(parent),
      m_selection(selection),
      m_heatmap(new LoadHeatmapPlot(this)),
      m_model(new LayerHealthModel(this)),
      m_proxy(new QSortFilterProxyModel(this)),
      m_table(new QTableView(this))
{
    m_proxy->setSourceModel(m_model);
    m_proxy->setSortRole(LayerHealthModel::SortRole);
    m_table->setModel(m_proxy);
    m_table->setSortingEnabled(true);
    m_table->sortByColumn(LayerHealthModel::InitialSortColumn, Qt::AscendingOrder);
    m_table->setSelectionBehavior(QAbstractItemView::SelectRows);
    m_table->setSelectionMode(QAbstractItemView::SingleSelection);
    m_table->verticalHeader()->hide();
    m_table->verticalHeader()->setDefaultSectionSize(m_table->fontMetrics().height() + 6);
    m_table->horizontalHeader()->setSectionResizeMode(QHeaderView::ResizeToContents);
    m_table->horizontalHeader()->setStretchLastSection(true);
    m_table->setAlternatingRowColors(false);
    m_table->setToolTip(tr("Click a column header to sort: Health puts the worst layers first"));

    auto *split = new QSplitter(Qt::Vertical, this);
    split->addWidget(m_heatmap);
    split->addWidget(m_table);
    split->setStretchFactor(0, 3);
    split->setStretchFactor(1, 2);
    split->setChildrenCollapsible(false);
    auto *layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->addWidget(split);

    // While a dump loads, its layers are not those of the dump the other views show:
    // a click on them selects nothing.
    connect(m_heatmap, &LoadHeatmapPlot::cellClicked, this, [this](int layer, int expert) {
        if (!showsPartial())
            m_selection->setLayerAndExpert(layer, expert);
    });
    connect(m_table->selectionModel(), &QItemSelectionModel::currentRowChanged, this,
            [this](const QModelIndex &current) {
                if (m_syncing || !current.isValid() || showsPartial())
                    return;
                m_selection->setLayer(current.data(LayerHealthModel::LayerRole).toInt());
            });
    connect(m_selection, &SelectionModel::changed, this, &OverviewView::showSelection);
}

void OverviewView::setSnapshot(const DumpSnapshotPtr &snapshot)
{
    m_model->setSnapshot(snapshot);
    m_snapshot = snapshot;
    showSelection(m_selection->current());
}

void OverviewView::showSelection(const Selection &selection)
{
    if (showsPartial()) {
        // A dump still loading: its layers so far, nothing selected in it yet.
        m_heatmap->showChart(m_snapshot, {});
        return;
    }
    m_heatmap->showChart(m_snapshot, {selection.layer, selection.expert});
    const QModelIndex source = m_model->index(selection.layer, 0);
    const QModelIndex row = m_proxy->mapFromSource(source);
    if (!row.isValid() || m_table->currentIndex().row() == row.row())
        return;
    // Reflect the selection without echoing it back as a new history step.
    m_syncing = true;
    m_table->selectionModel()->setCurrentIndex(row, QItemSelectionModel::ClearAndSelect | QItemSelectionModel::Rows);
    m_table->scrollTo(row);
    m_syncing = false;
}

} // namespace moescope::ui
