#include "ExpertPairsView.h"

#include "Engines.h"

#include "Format.h"
#include "JobSlot.h"
#include "SelectionModel.h"
#include "plots/ExpertPairsPlot.h"
#include "routing/BackendFactory.h"

#include <QComboBox>
#include <QElapsedTimer>
#include <QHBoxLayout>
#include <QLabel>
#include <QSettings>
#include <QShortcut>
#include <QVBoxLayout>


namespace moescope::ui {

namespace {
const QString kKindKey = QStringLiteral("pairs/kind");
const QString kDeviceKey = QStringLiteral("pairs/device");

struct CountedPairs {
    PairMatrix pairs;
    QString notice;
    double seconds = 0;
};
} // namespace

ExpertPairsView::ExpertPairsView(SelectionModel *selection, QWidget *parent)
    : QWidget(parent), m_selection(selection), m_plot(new ExpertPairsPlot(this)), m_kind(new QComboBox(this)),
      m_device(new QComboBox(this)), m_status(new QLabel(this)), m_job(new JobSlot(tr("Expert pairs"), this))
{
    m_kind->addItem(tr("Co-activation in the layer"), int(PairKind::CoActivation));
    m_kind->addItem(tr("Adjacent co-activation"), int(PairKind::AdjacentCoActivation));
    m_kind->addItem(tr("Transitions to the next layer"), int(PairKind::Transitions));
    m_kind->setToolTip(tr("Co-activation: which experts a token's k choices combine.\n"
                          "Adjacent (OLMoE's heatmaps): only experts next to each other in a token's score order.\n"
                          "Transitions: where the tokens of each best expert go at the next layer."));
    m_device->addItem(tr("CPU"), int(Device::Cpu));
    m_device->addItem(tr("GPU (OpenCL)"), int(Device::Gpu));
    m_device->addItem(tr("auto"), int(Device::Auto));
    m_device->setToolTip(tr("Where the pairs are counted; auto uses a GPU when there is one"));
    QSettings settings;
    m_kind->setCurrentIndex(std::max(0, m_kind->findData(settings.value(kKindKey, 0).toInt())));
    m_device->setCurrentIndex(std::max(0, m_device->findData(settings.value(kDeviceKey, int(Device::Auto)).toInt())));
    m_plot->setKind(PairKind(m_kind->currentData().toInt()));
    m_status->setStyleSheet(QStringLiteral("color: #555"));
    // The controls must not widen the dock that this view shares with the histogram.
    m_status->setSizePolicy(QSizePolicy::Ignored, QSizePolicy::Preferred);
    m_status->setAlignment(Qt::AlignRight | Qt::AlignVCenter);

    auto *controls = new QHBoxLayout;
    controls->setContentsMargins(6, 2, 6, 0);
    controls->addWidget(m_kind);
    controls->addWidget(m_status, 1);
    controls->addSpacing(12);
    controls->addWidget(new QLabel(tr("Device:"), this));
    controls->addWidget(m_device);
    auto *layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->setSpacing(0);
    layout->addLayout(controls);
    layout->addWidget(m_plot, 1);

    connect(m_kind, &QComboBox::currentIndexChanged, this, [this] {
        QSettings().setValue(kKindKey, m_kind->currentData().toInt());
        m_plot->setKind(PairKind(m_kind->currentData().toInt()));
        refresh();
    });
    connect(m_device, &QComboBox::currentIndexChanged, this, [this] {
        QSettings().setValue(kDeviceKey, m_device->currentData().toInt());
        refresh();
    });
    connect(m_selection, &SelectionModel::changed, this, [this](const Selection &now, const Selection &before) {
        if (m_shownPairs)
            m_plot->showChart(m_snapshot, {m_shownPairs, now.expert});
        if (now.layer != before.layer)
            refresh();
    });
    auto *again = new QShortcut(QKeySequence::Refresh, this, this, [this] { refresh(); });
    again->setContext(Qt::WidgetWithChildrenShortcut);
    // A cancel (the status bar's button) ends the job with no result: say so, and let
    // the next change count again.
    connect(m_job, &JobSlot::cancelled, this, [this] {
        m_pendingKey.reset();
        m_status->setText(tr("cancelled"));
        m_shownPairs.reset();
        m_plot->clear(tr("Counting was cancelled. Press F5 to count again."));
    });
    connect(m_plot, &ExpertPairsPlot::cellClicked, this, [this](int, int e2) {
        const PairMatrix &pairs = m_plot->pairs();
        if (pairs.kind == PairKind::Transitions)
            m_selection->setLayerAndExpert(pairs.layer + 1, e2); // follow the tokens
        else
            m_selection->setExpert(e2);
    });
}

void ExpertPairsView::setKind(PairKind kind)
{
    m_kind->setCurrentIndex(m_kind->findData(int(kind)));
}

void ExpertPairsView::setDevice(Device device)
{
    m_device->setCurrentIndex(m_device->findData(int(device)));
}

void ExpertPairsView::setSnapshot(const DumpSnapshotPtr &snapshot)
{
    m_snapshot = snapshot;
    m_shownKey.reset();
    m_pendingKey.reset();
    m_job->discard(); // a new dump, not a cancel
    refresh();
}

void ExpertPairsView::setOnScreen(bool onScreen)
{
    m_onScreen = onScreen;
    refresh();
}

void ExpertPairsView::refresh()
{
    const PairKind kind = PairKind(m_kind->currentData().toInt());
    const Device device = Device(m_device->currentData().toInt());
    const int layer = m_selection->current().layer;
    QString why;
    if (!m_snapshot || !pairsApply(*m_snapshot, kind, layer, &why)) {
        m_job->discard();
        m_shownKey.reset();
        m_pendingKey.reset();
        m_status->clear();
        m_shownPairs.reset();
        m_plot->clear(m_snapshot ? why : tr("Open a dump to see which experts work together."));
        return;
    }
    const CountKey key{m_snapshot, kind, layer, device};
    if (key == m_shownKey)
        return;
    // Never another layer's or kind's pairs under this title, nor in an export.
    m_shownKey.reset();
    m_shownPairs.reset();
    m_plot->clear(m_onScreen ? tr("Counting...") : tr("Not counted yet."));
    if (!m_onScreen || (m_job->isBusy() && key == m_pendingKey))
        return;
    m_pendingKey = key;
    m_status->setText(tr("counting..."));
    const DumpSnapshotPtr snapshot = m_snapshot;
    m_job->start<CountedPairs>(
        [snapshot, kind, layer, device](const Progress &progress) {
            // The application's backend counts one matrix at a time (each holds E x E
            // per thread); a count that a newer one replaced before it started gives
            // up here (once under way, a count is one backend call and runs to its end).
            CountedPairs result;
            std::string notice;
            const std::shared_ptr<RoutingBackend> backend = Engines::instance().backend(device, notice);
            progress.checkCancelled();
            QElapsedTimer timer;
            timer.start();
            result.pairs = countPairs(*snapshot, kind, layer, *backend);
            result.seconds = double(timer.nsecsElapsed()) * 1e-9;
            for (const std::string &w : backend->takeWarnings())
                notice += (notice.empty() ? "" : "; ") + w;
            result.notice = QString::fromStdString(notice);
            progress.report(1.0);
            return result;
        },
        [this, snapshot, key](CountedPairs result) {
            if (snapshot != m_snapshot || key != m_pendingKey)
                return;
            m_shownKey = key;
            // The engine's first word ("cpu", "opencl"); its whole name in the tooltip.
            m_status->setText(tr("%1, %2 ms").arg(result.pairs.device.section(u' ', 0, 0),
                                                 formatNumber(result.seconds * 1e3, 2)));
            m_status->setToolTip(tr("Counted on %1%2").arg(result.pairs.device,
                                                           result.notice.isEmpty() ? QString() : "\n" + result.notice));
            m_shownPairs = std::make_shared<const PairMatrix>(std::move(result.pairs));
            m_plot->showChart(snapshot, {m_shownPairs, m_selection->current().expert});
            emit counted();
        },
        [this](const QString &message) {
            m_shownKey.reset();
            m_pendingKey.reset();
            m_status->setText(tr("could not count"));
            m_shownPairs.reset();
            m_plot->clear(tr("Could not count the pairs: %1").arg(message));
        });
}

} // namespace moescope::ui
