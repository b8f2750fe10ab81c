#include "UtilizationView.h"

#include "SelectionModel.h"
#include "plots/UtilizationPlot.h"

#include <QCheckBox>
#include <QHBoxLayout>
#include <QVBoxLayout>

namespace moescope::ui {

UtilizationView::UtilizationView(SelectionModel *selection, QWidget *parent)
    : QWidget(parent), m_selection(selection), m_plot(new UtilizationPlot(this)),
      m_sorted(new QCheckBox(tr("Order by load"), this))
{
    m_sorted->setToolTip(tr("Order the bars from the busiest expert to the idlest: a collapse shows as a cliff"));
    auto *controls = new QHBoxLayout;
    controls->setContentsMargins(6, 2, 6, 0);
    controls->addStretch();
    controls->addWidget(m_sorted);
    auto *layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->setSpacing(0);
    layout->addLayout(controls);
    layout->addWidget(m_plot, 1);

    connect(m_sorted, &QCheckBox::toggled, this, &UtilizationView::showChart);
    connect(m_plot, &UtilizationPlot::expertClicked, m_selection, &SelectionModel::setExpert);
    connect(m_selection, &SelectionModel::changed, this, &UtilizationView::showChart);
}

void UtilizationView::setSnapshot(const DumpSnapshotPtr &snapshot)
{
    m_snapshot = snapshot;
    showChart();
}

void UtilizationView::showChart()
{
    const Selection &s = m_selection->current();
    m_plot->showChart(m_snapshot, {s.layer, s.expert, m_sorted->isChecked()});
}

} // namespace moescope::ui
