#include "FollowRunPage.h"

#include "Format.h"
#include "JobSlot.h"
#include "MessageBanner.h"
#include "SelectionModel.h"
#include "views/TrainingView.h"

#include <QFileDialog>
#include <QFileInfo>
#include <QHeaderView>
#include <QLabel>
#include <QPushButton>
#include <QTableWidget>
#include <QVBoxLayout>

#include <algorithm>
#include <cmath>

namespace moescope::ui {

namespace {
QString conditionText(const std::string &condition)
{
    return condition == "cold" ? QObject::tr("at least a tenth of its experts are cold (under 0.1x the mean load)")
                               : QObject::tr("MaxVio above 2 (one expert holds over three times its share)");
}
} // namespace

FollowRunPage::FollowRunPage(QWidget *parent)
    : QWidget(parent), m_job(new JobSlot(tr("Following run"), this)), m_title(new QLabel(this)),
      m_alert(new QPushButton(this)), m_table(new QTableWidget(this))
{
    m_title->setWordWrap(true);
    m_title->setStyleSheet(QStringLiteral("font-size: 12pt; padding: 4px"));
    m_alert->setObjectName(QStringLiteral("collapseAlert"));
    m_alert->setCursor(Qt::PointingHandCursor);
    m_alert->setStyleSheet(QStringLiteral("QPushButton { background: #fbe3e1; border: 1px solid #d9534f; "
                                          "border-radius: 3px; color: #6d1a12; padding: 8px; text-align: left; "
                                          "font-weight: bold; }"));
    m_alert->hide();
    m_table->setColumnCount(6);
    m_table->setHorizontalHeaderLabels({tr("Layer"), tr("CV"), tr("MaxVio"), tr("Hot"), tr("Cold"), tr("At the newest step")});
    m_table->verticalHeader()->hide();
    m_table->setEditTriggers(QAbstractItemView::NoEditTriggers);
    m_table->setSelectionBehavior(QAbstractItemView::SelectRows);
    m_table->setSelectionMode(QAbstractItemView::SingleSelection);
    m_table->horizontalHeader()->setStretchLastSection(true);
    auto *layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->addWidget(m_title);
    layout->addWidget(m_alert);
    layout->addWidget(m_table, 1);

    connect(m_alert, &QPushButton::clicked, this, [this] {
        if (m_last.alert)
            emit layerRequested(int(m_last.alert->layer));
    });
    connect(m_table, &QTableWidget::cellClicked, this, [this](int row, int) { emit layerRequested(row); });
    m_poll.setInterval(1000); // new steps reach the window within about a second
    connect(&m_poll, &QTimer::timeout, this, &FollowRunPage::pollNow);
    m_clock.setInterval(1000); // "m s ago" keeps counting between polls
    connect(&m_clock, &QTimer::timeout, this, &FollowRunPage::updateStatus);
}

FollowRunPage::~FollowRunPage() = default;

void FollowRunPage::connectTo(TrainingView *training, SelectionModel *selection, QLabel *status, MessageBanner *banner)
{
    connect(this, &FollowRunPage::snapshotChanged, training, &TrainingView::setSnapshot);
    connect(this, &FollowRunPage::layerRequested, selection, &SelectionModel::setLayer);
    connect(this, &FollowRunPage::statusChanged, status, &QLabel::setText);
    connect(this, &FollowRunPage::message, banner, &MessageBanner::showInfo);
    connect(this, &FollowRunPage::failed, banner, &MessageBanner::showError);
}

QString FollowRunPage::askForRunLog(QWidget *parent)
{
    return QFileDialog::getOpenFileName(parent, tr("Follow a training run's log"), {},
                                        tr("Run logs (*.h5 *.hdf5);;All files (*)"));
}

void FollowRunPage::follow(const QString &path)
{
    stop();
    m_path = path;
    m_state = std::make_shared<LiveRunState>(path.toStdString());
    m_last = LivePoll{};
    m_typicalGapMs = 0;
    m_errorShown = false;
    m_alert->hide();
    m_table->setRowCount(0);
    m_title->setText(tr("<b>Following %1</b><br>waiting for the first step...").arg(QFileInfo(path).fileName().toHtmlEscaped()));
    m_sinceNews.start();
    pollNow();
    m_poll.start();
    m_clock.start();
}

void FollowRunPage::stop()
{
    m_poll.stop();
    m_clock.stop();
    m_job->discard();
    m_state.reset();
}

void FollowRunPage::pollNow()
{
    if (!m_state || m_job->isBusy())
        return; // one poll at a time; a slow file delays the next, never the GUI
    const std::shared_ptr<LiveRunState> state = m_state;
    m_job->start<LivePoll>(
        [state](const Progress &) { return state->poll(); }, [this](LivePoll poll) { show(std::move(poll)); },
        [this](const QString &error) {
            // The first open failing means this is no run log; later failures are
            // often a writer replacing the file: say so once and keep trying.
            if (m_last.layerNames.empty() && !m_last.steps) {
                stop();
                emit failed(tr("<b>Could not follow %1</b><br>%2").arg(QFileInfo(m_path).fileName().toHtmlEscaped(),
                                                                       error.toHtmlEscaped()));
            } else if (!m_errorShown) {
                m_errorShown = true;
                emit statusChanged(tr("cannot read %1 right now, trying again: %2").arg(m_path, error));
            }
        });
}

void FollowRunPage::show(LivePoll poll)
{
    m_errorShown = false;
    if (poll.replaced) {
        m_alert->hide();
        emit message(tr("<b>%1 was replaced by a new run</b><br>Following the new run from its first step.")
                         .arg(QFileInfo(m_path).fileName().toHtmlEscaped()));
    }
    if (poll.grew && !poll.replaced && m_last.steps && poll.steps > m_last.steps) {
        // How long a step usually takes to arrive: a slow training job (a step a
        // minute) is not a stopped one.
        const double gap = double(m_sinceNews.elapsed()) / double(poll.steps - m_last.steps);
        m_typicalGapMs = m_typicalGapMs > 0 ? 0.8 * m_typicalGapMs + 0.2 * gap : gap;
    }
    if (poll.grew || poll.replaced)
        m_sinceNews.restart();
    const bool newAlert = poll.alert && (!m_last.alert || poll.replaced);
    m_last = std::move(poll);
    if (m_last.snapshot)
        emit snapshotChanged(m_last.snapshot);
    if (newAlert) {
        const CollapseAlert &a = *m_last.alert;
        m_alert->setText(tr("Collapse alert: layer %1 has been collapsing since step %2 \u2014 %3. Click to select the layer.")
                             .arg(QString::fromStdString(m_last.layerNames.at(a.layer)))
                             .arg(a.sinceStep)
                             .arg(conditionText(a.condition)));
        m_alert->show();
    }
    showTable();
    updateStatus();
    if (!m_last.writerOpen)
        m_poll.stop(); // the writer closed the file: nothing more will come
    emit polled();
}

void FollowRunPage::showTable()
{
    const std::size_t L = m_last.layerNames.size();
    if (m_table->rowCount() != int(L))
        m_table->setRowCount(int(L));
    auto set = [this](int row, int column, const QString &text) {
        QTableWidgetItem *item = m_table->item(row, column);
        if (!item) {
            item = new QTableWidgetItem;
            m_table->setItem(row, column, item);
        }
        item->setText(text);
    };
    for (std::size_t l = 0; l < L && l < m_last.latest.size(); ++l) {
        const LayerStepHealth &h = m_last.latest[l];
        const int row = int(l);
        set(row, 0, QString::fromStdString(m_last.layerNames[l]));
        set(row, 1, std::isfinite(h.cv) ? formatNumber(h.cv, 3) : QStringLiteral("-"));
        set(row, 2, formatNumber(h.maxVio, 3));
        set(row, 3, QString::number(h.hot));
        set(row, 4, QString::number(h.cold));
        set(row, 5, h.collapsing() ? (h.coldCollapse ? tr("collapsing (cold experts)") : tr("collapsing (MaxVio > 2)"))
                                   : tr("ok"));
        const QColor background = h.collapsing() ? QColor(0xfb, 0xe3, 0xe1) : QColor(Qt::transparent);
        for (int c = 0; c < 6; ++c)
            m_table->item(row, c)->setBackground(background);
    }
}

QString FollowRunPage::statusText() const
{
    if (!m_state && m_path.isEmpty())
        return {};
    const qint64 ago = m_sinceNews.isValid() ? m_sinceNews.elapsed() / 1000 : 0;
    if (!m_last.steps)
        return tr("following: waiting for the first step (%1 s)").arg(ago);
    if (!m_last.writerOpen)
        return tr("run finished: step %1 (the writer closed the file)").arg(m_last.lastStep);
    if (m_sinceNews.isValid() && m_sinceNews.elapsed() > std::max(double(m_stalledAfterMs), 5 * m_typicalGapMs))
        return tr("following: step %1, nothing new for %2 s: writer stopped?").arg(m_last.lastStep).arg(ago);
    return tr("following: step %1, %2 s ago").arg(m_last.lastStep).arg(ago);
}

void FollowRunPage::updateStatus()
{
    const QString text = statusText();
    if (m_last.steps)
        m_title->setText(tr("<b>Following %1</b> \u00b7 %2 steps logged \u00b7 %3")
                             .arg(QFileInfo(m_path).fileName().toHtmlEscaped())
                             .arg(formatCount(std::int64_t(m_last.steps)))
                             .arg(text.toHtmlEscaped()));
    emit statusChanged(text);
}

} // namespace moescope::ui
