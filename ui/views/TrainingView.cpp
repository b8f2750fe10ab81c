#include "TrainingView.h"

#include "SelectionModel.h"
#include "plots/TrainingPlot.h"

#include <QLabel>
#include <QStackedWidget>
#include <QVBoxLayout>

namespace moescope::ui {

TrainingView::TrainingView(SelectionModel *selection, QWidget *parent)
    : QWidget(parent), m_selection(selection), m_plot(new TrainingPlot(this)), m_empty(new QLabel(this)),
      m_stack(new QStackedWidget(this))
{
    m_empty->setAlignment(Qt::AlignCenter);
    m_empty->setWordWrap(true);
    m_empty->setStyleSheet(QStringLiteral("color: #666; padding: 24px"));
    m_empty->setText(tr("This dump has no /training group.\nA recorder that logs lb_loss, z_loss and "
                        "tokens_per_expert during training fills this page."));
    m_stack->addWidget(m_empty);
    m_stack->addWidget(m_plot);
    auto *layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->addWidget(m_stack);
    connect(m_plot, &TrainingPlot::layerClicked, m_selection, &SelectionModel::setLayer);
    connect(m_plot, &TrainingPlot::expertClicked, m_selection, &SelectionModel::setExpert);
    connect(m_selection, &SelectionModel::changed, this, &TrainingView::showChart);
}

void TrainingView::setSnapshot(const DumpSnapshotPtr &snapshot)
{
    m_snapshot = snapshot;
    showChart();
    m_stack->setCurrentWidget(m_plot->hasChartData() ? static_cast<QWidget *>(m_plot) : m_empty);
}

void TrainingView::showChart()
{
    const Selection &s = m_selection->current();
    // Without a selected layer the chart keeps the one it shows.
    m_plot->showChart(m_snapshot, {s.layer >= 0 ? s.layer : m_plot->layer(), s.expert});
}

} // namespace moescope::ui
