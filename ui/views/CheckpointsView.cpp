#include "CheckpointsView.h"

#include "Format.h"
#include "JobSlot.h"
#include "SelectionModel.h"
#include "plots/CheckpointExpertPlot.h"
#include "plots/SaturationPlot.h"

#include <QComboBox>
#include <QFileInfo>
#include <QHBoxLayout>
#include <QLabel>
#include <QPushButton>
#include <QSplitter>
#include <QVBoxLayout>

#include <algorithm>

namespace moescope::ui {

CheckpointsView::CheckpointsView(SelectionModel *selection, QWidget *parent)
    : QWidget(parent), m_selection(selection), m_job(new JobSlot(tr("Comparing checkpoints"), this)),
      m_checkpoints(new QComboBox(this)), m_show(new QPushButton(tr("Show this checkpoint"), this)),
      m_summary(new QLabel(this)), m_saturation(new SaturationPlot(this)), m_expert(new CheckpointExpertPlot(this)),
      m_loadChange(new LoadChangePlot(this))
{
    m_checkpoints->setObjectName(QStringLiteral("checkpointList"));
    m_checkpoints->setToolTip(tr("The checkpoint whose load change is shown; Show opens it in every other view"));
    m_show->setToolTip(tr("Show this checkpoint's dump in every other view, keeping the layer and expert"));
    m_summary->setWordWrap(true);
    // Neither the list nor the summary may widen the dock this view shares with others.
    m_summary->setSizePolicy(QSizePolicy::Ignored, QSizePolicy::Preferred);
    m_checkpoints->setSizeAdjustPolicy(QComboBox::AdjustToMinimumContentsLengthWithIcon);
    m_checkpoints->setMinimumContentsLength(12);
    auto *controls = new QHBoxLayout;
    controls->setContentsMargins(6, 2, 6, 0);
    controls->addWidget(new QLabel(tr("Checkpoint:"), this));
    controls->addWidget(m_checkpoints, 1);
    controls->addWidget(m_show);
    auto *lower = new QSplitter(Qt::Horizontal, this);
    lower->addWidget(m_expert);
    lower->addWidget(m_loadChange);
    auto *split = new QSplitter(Qt::Vertical, this);
    split->addWidget(m_saturation);
    split->addWidget(lower);
    auto *layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->setSpacing(2);
    layout->addLayout(controls);
    layout->addWidget(m_summary);
    layout->addWidget(split, 1);

    connect(m_checkpoints, &QComboBox::activated, this, [this](int row) {
        setCheckpoint(m_checkpoints->itemData(row).toInt());
    });
    connect(m_show, &QPushButton::clicked, this, [this] {
        if (m_comparison && m_checkpoint >= 0)
            emit checkpointChosen(QString::fromStdString(m_comparison->files[std::size_t(m_checkpoint)]));
    });
    connect(m_saturation, &SaturationPlot::cellClicked, this, [this](int layer, int checkpoint) {
        setCheckpoint(checkpoint);
        m_selection->setLayer(snapshotLayer(layer));
    });
    connect(m_loadChange, &LoadChangePlot::expertClicked, m_selection, &SelectionModel::setExpert);
    connect(m_selection, &SelectionModel::changed, this, &CheckpointsView::showCharts);
    showCharts();
}

void CheckpointsView::compare(const QStringList &paths)
{
    m_job->start<CheckpointComparisonPtr>(
        [paths](const Progress &progress) { return compareFiles(paths, progress); },
        [this](CheckpointComparisonPtr comparison) { setComparison(comparison); },
        [this](const QString &message) { emit comparisonFailed(message); });
}

void CheckpointsView::setComparison(const CheckpointComparisonPtr &comparison)
{
    m_comparison = comparison;
    m_checkpoints->clear();
    m_checkpoint = -1;
    if (comparison) {
        for (std::size_t i : comparison->order)
            m_checkpoints->addItem(checkpointLabel(*comparison, i) + QStringLiteral("  \u2014  ") +
                                       QFileInfo(QString::fromStdString(comparison->files[i])).fileName(),
                                   int(i));
        // Start with the earliest checkpoint: the one furthest from the reference.
        m_checkpoint = int(comparison->order.front() == comparison->reference && comparison->order.size() > 1
                               ? comparison->order[1]
                               : comparison->order.front());
        m_checkpoints->setCurrentIndex(m_checkpoints->findData(m_checkpoint));
        QStringList warnings;
        for (const std::string &w : comparison->warnings)
            warnings << QString::fromStdString(w);
        m_summary->setText(tr("%1 checkpoints of %2 tokens, reference %3.%4")
                               .arg(comparison->files.size())
                               .arg(formatCount(comparison->tokens))
                               .arg(checkpointLabel(*comparison, comparison->reference))
                               .arg(warnings.isEmpty() ? QString() : QStringLiteral(" ") + warnings.join(QStringLiteral("; "))));
    } else {
        m_summary->clear();
    }
    showCharts();
    if (comparison)
        emit comparisonShown();
}

void CheckpointsView::setCheckpoint(int checkpoint)
{
    if (!m_comparison || checkpoint < 0 || checkpoint >= int(m_comparison->files.size()))
        return;
    m_checkpoint = checkpoint;
    m_checkpoints->setCurrentIndex(m_checkpoints->findData(checkpoint));
    showCharts();
}

void CheckpointsView::setSnapshot(const DumpSnapshotPtr &snapshot)
{
    m_snapshot = snapshot;
    if (m_comparison && snapshot) {
        const QFileInfo shown(snapshot->path);
        for (std::size_t i = 0; i < m_comparison->files.size(); ++i)
            if (QFileInfo(QString::fromStdString(m_comparison->files[i])) == shown && i != m_comparison->reference) {
                m_checkpoint = int(i);
                m_checkpoints->setCurrentIndex(m_checkpoints->findData(m_checkpoint));
            }
    }
    showCharts();
}

int CheckpointsView::seriesLayer() const
{
    if (!m_comparison || m_comparison->layers.empty())
        return 0;
    const int layer = std::max(0, m_selection->current().layer);
    if (m_snapshot && layer < m_snapshot->numLayers()) {
        const std::string &name = m_snapshot->analysis.report.layers[std::size_t(layer)].name;
        for (std::size_t l = 0; l < m_comparison->layers.size(); ++l)
            if (m_comparison->layers[l].name == name)
                return int(l);
    }
    return std::min(layer, int(m_comparison->layers.size()) - 1);
}

int CheckpointsView::snapshotLayer(int seriesLayer) const
{
    if (m_snapshot && m_comparison)
        for (int l = 0; l < m_snapshot->numLayers(); ++l)
            if (m_snapshot->analysis.report.layers[std::size_t(l)].name == m_comparison->layers[std::size_t(seriesLayer)].name)
                return l;
    return seriesLayer;
}

void CheckpointsView::showCharts()
{
    const int layer = seriesLayer();
    const int expert = std::max(0, m_selection->current().expert);
    m_show->setEnabled(m_comparison && m_checkpoint >= 0);
    m_saturation->showChart(m_comparison, {m_comparison ? layer : -1, m_checkpoint});
    m_expert->showChart(m_comparison, {layer, expert, m_checkpoint});
    m_loadChange->showChart(m_comparison, {layer, std::max(0, m_checkpoint), m_selection->current().expert});
}

} // namespace moescope::ui
