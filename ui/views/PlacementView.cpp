#include "PlacementView.h"

#include "JobSlot.h"
#include "PlacementCanvas.h"
#include "SelectionModel.h"

#include <QComboBox>
#include <QElapsedTimer>
#include <QHBoxLayout>
#include <QLabel>
#include <QSpinBox>
#include <QVBoxLayout>

namespace moescope::ui {

namespace {
void addPolicies(QComboBox *box)
{
    box->addItem(QObject::tr("contiguous"), int(PlacementPolicy::Contiguous));
    box->addItem(QObject::tr("round-robin"), int(PlacementPolicy::RoundRobin));
    box->addItem(QObject::tr("EPLB"), int(PlacementPolicy::Eplb));
}

QSpinBox *spin(QWidget *parent, int low, int high, const QString &tip)
{
    auto *s = new QSpinBox(parent);
    s->setRange(low, high);
    s->setToolTip(tip);
    s->setKeyboardTracking(false); // recompute once the number is typed, not per digit
    return s;
}

struct Placed {
    PlacementComparison comparison;
    double seconds = 0;
};
} // namespace

PlacementView::PlacementView(SelectionModel *selection, QWidget *parent)
    : QWidget(parent), m_selection(selection), m_canvas(new PlacementCanvas(this)),
      m_ranks(spin(this, 1, 65536, tr("R: expert-parallel ranks (GPUs) a layer's experts are spread over"))),
      m_redundant(spin(this, 0, 65536, tr("Redundant replicas per layer for EPLB: P = E + this many slots"))),
      m_groups(spin(this, 1, 65536, tr("G: expert groups for EPLB (hierarchical when G is a multiple of N)"))),
      m_nodes(spin(this, 1, 65536, tr("N: nodes of R / N ranks each for EPLB"))), m_before(new QComboBox(this)),
      m_after(new QComboBox(this)), m_status(new QLabel(this)), m_job(new JobSlot(tr("Placement"), this))
{
    addPolicies(m_before);
    addPolicies(m_after);
    m_before->setToolTip(tr("The placement to compare against (\"before\")"));
    m_after->setToolTip(tr("The placement shown in the heatmap, bars and all-to-all (\"after\")"));
    m_status->setSizePolicy(QSizePolicy::Ignored, QSizePolicy::Preferred);
    m_status->setAlignment(Qt::AlignRight | Qt::AlignVCenter);
    m_status->setStyleSheet(QStringLiteral("color: #555"));

    auto *controls = new QHBoxLayout;
    controls->setContentsMargins(6, 2, 6, 0);
    const QList<QPair<QString, QWidget *>> items = {{tr("Ranks"), m_ranks},   {tr("Before"), m_before},
                                                    {tr("After"), m_after},   {tr("Redundant"), m_redundant},
                                                    {tr("Groups"), m_groups}, {tr("Nodes"), m_nodes}};
    for (const auto &[label, widget] : items) {
        controls->addWidget(new QLabel(label, this));
        controls->addWidget(widget);
        controls->addSpacing(6);
    }
    controls->addWidget(m_status, 1);
    auto *layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->setSpacing(0);
    layout->addLayout(controls);
    layout->addWidget(m_canvas, 1);
    m_canvas->setNote(tr("Open a dump to see how its load lands on expert-parallel ranks."));

    for (QSpinBox *s : {m_ranks, m_redundant, m_groups, m_nodes})
        connect(s, &QSpinBox::valueChanged, this, [this] {
            if (!m_settingRequest)
                recompute();
        });
    for (QComboBox *b : {m_before, m_after})
        connect(b, &QComboBox::currentIndexChanged, this, [this] {
            if (!m_settingRequest)
                recompute();
        });
    connect(m_selection, &SelectionModel::changed, this, [this] { showSelection(); });
    connect(m_canvas, &PlacementCanvas::layerClicked, m_selection, &SelectionModel::setLayer);
    connect(m_canvas, &PlacementCanvas::expertClicked, m_selection, &SelectionModel::setLayerAndExpert);
}

PlacementRequest PlacementView::request() const
{
    PlacementRequest r;
    const int E = m_snapshot ? m_snapshot->numExperts() : 0;
    for (auto [settings, box] : {std::pair{&r.before, m_before}, std::pair{&r.after, m_after}}) {
        settings->ranks = m_ranks->value();
        settings->policy = PlacementPolicy(box->currentData().toInt());
        if (settings->policy == PlacementPolicy::Eplb) {
            settings->physicalExperts = E + m_redundant->value();
            settings->groups = m_groups->value();
            settings->nodes = m_nodes->value();
        }
    }
    return r;
}

void PlacementView::setRequest(const PlacementRequest &r)
{
    m_settingRequest = true;
    m_ranks->setValue(r.after.ranks);
    m_before->setCurrentIndex(m_before->findData(int(r.before.policy)));
    m_after->setCurrentIndex(m_after->findData(int(r.after.policy)));
    const PlacementSettings &eplb = r.after.policy == PlacementPolicy::Eplb ? r.after : r.before;
    const int E = m_snapshot ? m_snapshot->numExperts() : 0;
    m_redundant->setValue(eplb.physicalExperts > 0 ? std::max(0, eplb.physicalExperts - E) : 0);
    m_groups->setValue(eplb.groups);
    m_nodes->setValue(eplb.nodes);
    m_settingRequest = false;
    recompute();
}

QString PlacementView::statusText() const { return m_status->text(); }

void PlacementView::setSnapshot(const DumpSnapshotPtr &snapshot)
{
    const bool sameExperts = m_snapshot && snapshot && m_snapshot->numExperts() == snapshot->numExperts();
    m_snapshot = snapshot;
    m_job->discard();
    if (snapshot && !sameExperts)
        setRequest(defaultPlacementRequest(snapshot->numExperts())); // recomputes
    else
        recompute();
}

void PlacementView::recompute()
{
    m_shown.reset();
    m_canvas->setParameters({});
    if (!m_snapshot || m_snapshot->partial || m_snapshot->numLayers() == 0) {
        m_job->discard();
        m_status->clear();
        m_canvas->setNote(tr("Open a dump to see how its load lands on expert-parallel ranks."));
        return;
    }
    const PlacementRequest r = request();
    const int E = m_snapshot->numExperts();
    for (const PlacementSettings *s : {&r.before, &r.after}) {
        const std::string broken = placementRuleBroken(*s, E);
        if (!broken.empty()) {
            m_job->discard();
            m_status->setText(tr("settings break a rule"));
            m_canvas->setNote(QString::fromStdString(broken));
            return;
        }
    }
    m_status->setText(tr("placing..."));
    m_canvas->setNote(tr("Placing..."));
    const DumpSnapshotPtr snapshot = m_snapshot;
    m_job->start<Placed>(
        [snapshot, r](const Progress &progress) {
            QElapsedTimer timer;
            timer.start();
            Placed placed;
            placed.comparison = comparePlacements(*snapshot, r, progress);
            placed.seconds = double(timer.nsecsElapsed()) * 1e-9;
            return placed;
        },
        [this, snapshot](Placed result) {
            if (snapshot != m_snapshot)
                return;
            m_shown = std::make_shared<const PlacementComparison>(std::move(result.comparison));
            m_status->setText(tr("model straggler %1 \u2192 %2 \u00b7 %3 ms")
                                  .arg(m_shown->before.modelStraggler, 0, 'f', 3)
                                  .arg(m_shown->after.modelStraggler, 0, 'f', 3)
                                  .arg(result.seconds * 1e3, 0, 'f', 1));
            showSelection();
            emit placed();
        },
        [this](const QString &message) {
            m_status->setText(tr("could not place"));
            m_canvas->setNote(tr("Could not place the experts: %1").arg(message));
        });
}

void PlacementView::showSelection()
{
    if (!m_shown)
        return;
    const Selection &s = m_selection->current();
    m_canvas->setParameters({m_shown, std::max(0, s.layer), s.expert});
}

} // namespace moescope::ui
