#include "WhatIfView.h"

#include "Engines.h"
#include "Format.h"
#include "JobSlot.h"
#include "SelectionModel.h"
#include "analysis/AnalysisPipeline.h"
#include "analysis/BalanceReplay.h"
#include "models/WhatIfModel.h"

#include <QCheckBox>
#include <QComboBox>
#include <QDoubleSpinBox>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QItemSelectionModel>
#include <QLabel>
#include <QProgressBar>
#include <QPushButton>
#include <QSettings>
#include <QSortFilterProxyModel>
#include <QSpinBox>
#include <QTableView>
#include <QVBoxLayout>

namespace moescope::ui {

namespace {
struct WhatIfResult {
    std::vector<WhatIfRow> rows;
    QString notice;
    QString backend;
};

// What belongs to the user rather than to a dump (the device, the drop policy, the
// balancing replay) is remembered from run to run; scoring, k and the capacity factor
// start from each dump's own.
WhatIfSettings rememberedSettings()
{
    QSettings settings;
    settings.beginGroup(QStringLiteral("whatIf"));
    WhatIfSettings s;
    s.policy = DropPolicy(settings.value(QStringLiteral("policy"), int(s.policy)).toInt());
    s.group = CapacityGroup(settings.value(QStringLiteral("group"), int(s.group)).toInt());
    s.device = Device(settings.value(QStringLiteral("device"), int(s.device)).toInt());
    s.balanceRate = settings.value(QStringLiteral("balanceRate"), s.balanceRate).toDouble();
    s.balanceBatchTokens = settings.value(QStringLiteral("balanceBatchTokens"), s.balanceBatchTokens).toInt();
    s.expertChoice = settings.value(QStringLiteral("expertChoice"), s.expertChoice).toBool();
    return s;
}

void remember(const WhatIfSettings &s)
{
    QSettings settings;
    settings.beginGroup(QStringLiteral("whatIf"));
    settings.setValue(QStringLiteral("policy"), int(s.policy));
    settings.setValue(QStringLiteral("group"), int(s.group));
    settings.setValue(QStringLiteral("device"), int(s.device));
    settings.setValue(QStringLiteral("balanceRate"), s.balanceRate);
    settings.setValue(QStringLiteral("balanceBatchTokens"), s.balanceBatchTokens);
    settings.setValue(QStringLiteral("expertChoice"), s.expertChoice);
}
} // namespace

WhatIfView::WhatIfView(SelectionModel *selection, QWidget *parent)
    : QWidget(parent), m_selection(selection), m_scoring(new QComboBox(this)), m_policy(new QComboBox(this)),
      m_group(new QComboBox(this)), m_device(new QComboBox(this)), m_topK(new QSpinBox(this)),
      m_batchTokens(new QSpinBox(this)), m_expertChoice(new QCheckBox(tr("Expert choice"), this)), m_capacity(new QDoubleSpinBox(this)), m_balanceRate(new QDoubleSpinBox(this)),
      m_run(new QPushButton(tr("Run"), this)),
      m_cancel(new QPushButton(tr("Cancel"), this)), m_progress(new QProgressBar(this)), m_status(new QLabel(this)),
      m_model(new WhatIfModel(this)), m_table(new QTableView(this)), m_job(new JobSlot(tr("What-if"), this))
{
    m_scoring->addItem(tr("softmax"), int(Scoring::Softmax));
    m_scoring->addItem(tr("sigmoid"), int(Scoring::Sigmoid));
    m_policy->addItem(tr("token order (Switch)"), int(DropPolicy::TokenOrder));
    m_policy->addItem(tr("score priority"), int(DropPolicy::ScorePriority));
    m_policy->addItem(tr("none (dropless)"), int(DropPolicy::None));
    m_group->addItem(tr("whole dump"), int(CapacityGroup::Dump));
    m_group->addItem(tr("per sequence"), int(CapacityGroup::Sequence));
    m_device->addItem(tr("CPU"), int(Device::Cpu));
    m_device->addItem(tr("GPU (OpenCL)"), int(Device::Gpu));
    m_device->addItem(tr("auto"), int(Device::Auto));
    m_capacity->setRange(0.05, 64.0);
    m_capacity->setSingleStep(0.05);
    m_capacity->setDecimals(2);
    m_topK->setRange(1, 1);
    m_balanceRate->setRange(0.0, 1.0);
    m_balanceRate->setDecimals(4);
    m_balanceRate->setSingleStep(0.001);
    m_balanceRate->setSpecialValueText(tr("off"));
    m_balanceRate->setToolTip(tr("Auxiliary-loss-free balancing (DeepSeek-V3): after each batch every expert's bias "
                                 "moves by u towards the mean load. 0 turns the replay off."));
    m_batchTokens->setRange(1, 1 << 24);
    m_batchTokens->setValue(4096);
    m_batchTokens->setToolTip(tr("Tokens per balancing batch B: the bias is updated after each batch"));
    m_expertChoice->setToolTip(tr("Also route by expert choice (each expert takes its C best tokens by score, "
                                  "C = CF x k x T / E) and show the share of tokens no expert takes"));
    m_progress->setRange(0, 1000);
    m_progress->setTextVisible(false);
    m_progress->hide();
    m_cancel->hide();
    m_status->setWordWrap(true);
    m_status->setTextFormat(Qt::RichText);

    auto *form = new QFormLayout;
    form->addRow(tr("Scoring:"), m_scoring);
    form->addRow(tr("Top-k:"), m_topK);
    form->addRow(tr("Capacity factor:"), m_capacity);
    form->addRow(tr("Drop policy:"), m_policy);
    form->addRow(tr("Capacity per:"), m_group);
    form->addRow(tr("Bias balancing rate u:"), m_balanceRate);
    form->addRow(tr("Balancing batch (tokens):"), m_batchTokens);
    form->addRow(QString(), m_expertChoice);
    form->addRow(tr("Device:"), m_device);
    auto *buttons = new QHBoxLayout;
    buttons->addWidget(m_run);
    buttons->addWidget(m_cancel);
    buttons->addWidget(m_progress, 1);
    auto *proxy = new QSortFilterProxyModel(this);
    proxy->setSourceModel(m_model);
    proxy->setSortRole(WhatIfModel::SortRole);
    m_table->setModel(proxy);
    m_table->setSortingEnabled(true);
    m_table->sortByColumn(WhatIfModel::InitialSortColumn, Qt::AscendingOrder);
    m_table->verticalHeader()->hide();
    m_table->verticalHeader()->setDefaultSectionSize(m_table->fontMetrics().height() + 6);
    // Columns as wide as their two-line headers and numbers: a narrow dock scrolls
    // rather than cutting the headers off.
    m_table->horizontalHeader()->setSectionResizeMode(QHeaderView::ResizeToContents);
    m_table->setSelectionBehavior(QAbstractItemView::SelectRows);
    m_table->setSelectionMode(QAbstractItemView::SingleSelection);
    auto *layout = new QVBoxLayout(this);
    layout->setContentsMargins(6, 6, 6, 0);
    layout->addLayout(form);
    layout->addLayout(buttons);
    layout->addWidget(m_status);
    layout->addWidget(m_table, 1);

    m_run->setShortcut(QKeySequence(Qt::CTRL | Qt::Key_Return));
    m_run->setToolTip(tr("Re-route every layer with these settings (Ctrl+Return)"));
    connect(m_run, &QPushButton::clicked, this, &WhatIfView::run);
    connect(m_cancel, &QPushButton::clicked, m_job, &JobSlot::cancel);
    connect(m_job, &JobSlot::busyChanged, this, [this](bool busy) {
        m_progress->setVisible(busy);
        m_cancel->setVisible(busy);
        m_run->setEnabled(!busy && m_snapshot);
    });
    connect(m_job, &JobSlot::cancelled, this, [this] { m_status->setText(tr("Cancelled.")); });
    connect(m_job, &JobSlot::progressChanged, this, [this](double f) { m_progress->setValue(int(f * 1000)); });
    connect(m_table->selectionModel(), &QItemSelectionModel::currentRowChanged, this, [this](const QModelIndex &i) {
        if (i.isValid())
            m_selection->setLayer(i.data(WhatIfModel::LayerRole).toInt());
    });
    setSnapshot(nullptr);
}

void WhatIfView::setSnapshot(const DumpSnapshotPtr &snapshot)
{
    m_job->discard();
    m_snapshot = snapshot;
    m_model->clear();
    bool anyLogits = false;
    if (snapshot)
        for (const LayerInfo &l : snapshot->info().layers)
            anyLogits = anyLogits || l.hasLogits;
    m_run->setEnabled(anyLogits);
    if (!snapshot) {
        m_status->setText(tr("Open a dump to try other routing settings."));
        return;
    }
    if (!anyLogits) {
        m_status->setText(tr("This dump holds no logits, so it cannot be re-routed."));
        return;
    }
    const DumpInfo &info = snapshot->info();
    WhatIfSettings s = rememberedSettings();
    s.scoring = info.scoring;
    s.topK = info.topK;
    s.capacityFactor = snapshot->analysis.report.capacityFactor;
    m_topK->setRange(1, info.numExperts);
    setSettings(s);
    m_status->setText(tr("Re-route the logits with other settings and compare with the recorded routing."));
}

WhatIfSettings WhatIfView::settings() const
{
    WhatIfSettings s;
    s.scoring = Scoring(m_scoring->currentData().toInt());
    s.topK = m_topK->value();
    s.capacityFactor = m_capacity->value();
    s.policy = DropPolicy(m_policy->currentData().toInt());
    s.group = CapacityGroup(m_group->currentData().toInt());
    s.device = Device(m_device->currentData().toInt());
    s.balanceRate = m_balanceRate->value();
    s.balanceBatchTokens = m_batchTokens->value();
    s.expertChoice = m_expertChoice->isChecked();
    return s;
}

void WhatIfView::setSettings(const WhatIfSettings &s)
{
    m_scoring->setCurrentIndex(m_scoring->findData(int(s.scoring)));
    m_topK->setValue(s.topK);
    m_capacity->setValue(s.capacityFactor);
    m_policy->setCurrentIndex(m_policy->findData(int(s.policy)));
    m_group->setCurrentIndex(m_group->findData(int(s.group)));
    m_device->setCurrentIndex(m_device->findData(int(s.device)));
    m_balanceRate->setValue(s.balanceRate);
    m_batchTokens->setValue(s.balanceBatchTokens);
    m_expertChoice->setChecked(s.expertChoice);
}

void WhatIfView::run()
{
    if (!m_snapshot)
        return;
    const WhatIfSettings s = settings();
    remember(s);
    const DumpSnapshotPtr snapshot = m_snapshot;
    m_status->setText(tr("Re-routing..."));
    m_job->start<WhatIfResult>(
        [snapshot, s](const Progress &progress) {
            WhatIfResult result;
            std::string notice;
            const std::shared_ptr<RoutingBackend> backend = Engines::instance().backend(s.device, notice);
            result.notice = QString::fromStdString(notice);
            result.backend = QString::fromStdString(backend->name());
            AnalysisRequest request;
            request.capacityFactor = s.capacityFactor;
            request.drops = {s.capacityFactor, s.policy, s.group};
            RoutingRules rules = snapshot->info().routingRules(0);
            rules.scoring = s.scoring;
            rules.topK = s.topK;
            request.reroute = rules;
            request.compareWithRecorded = true;
            request.recorded = snapshot->analysis.layers.get();
            request.expertChoice = s.expertChoice;
            if (s.balanceRate > 0)
                request.balance = BalanceRequest{s.balanceRate, s.balanceBatchTokens};
            request.backend = backend.get();
            const AnalysisResult analysis = runAnalysis(*snapshot->dump, request, progress);
            for (const LayerAnalysis &layer : analysis.layers) {
                WhatIfRow row{int(layer.position), *layer.recorded, layer.report, {}, {}, {}};
                if (layer.balance) {
                    row.maxVioWithoutBias = meanOfLastBatches(layer.balance->maxVioWithout, 0.5);
                    row.maxVioWithBias = meanOfLastBatches(layer.balance->maxVioWith, 0.5);
                }
                if (layer.expertChoice)
                    row.expertChoiceUnrouted = layer.expertChoice->unroutedFraction();
                result.rows.push_back(std::move(row));
            }
            progress.report(1.0);
            return result;
        },
        [this, snapshot, s](WhatIfResult result) {
            if (snapshot != m_snapshot)
                return;
            double before = 0, after = 0;
            for (const WhatIfRow &r : result.rows) {
                before += r.before.drops.droppedFraction;
                after += r.after.drops.droppedFraction;
            }
            const double n = std::max<double>(1.0, double(result.rows.size()));
            m_status->setText(tr("<b>%1 layers re-routed</b> on %2 (top-%3, CF %4, %5). Mean drop rate %6 "
                                 "\u2192 %7.%8")
                                  .arg(result.rows.size())
                                  .arg(result.backend.toHtmlEscaped())
                                  .arg(s.topK)
                                  .arg(formatNumber(s.capacityFactor, 2))
                                  .arg(QString::fromLatin1(dropPolicyName(s.policy)))
                                  .arg(formatPercent(before / n, 2), formatPercent(after / n, 2))
                                  .arg(result.notice.isEmpty() ? QString()
                                                               : QStringLiteral("<br>") + result.notice.toHtmlEscaped()));
            m_model->setRows(snapshot, std::move(result.rows));
            emit finished();
        },
        [this](const QString &message) {
            m_status->setText(tr("<b>Could not re-route:</b> %1").arg(message.toHtmlEscaped()));
            emit failed(message);
        });
}

} // namespace moescope::ui
