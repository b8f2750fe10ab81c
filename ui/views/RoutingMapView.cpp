#include "RoutingMapView.h"

#include "Format.h"
#include "RoutingMapCanvas.h"
#include "SelectionModel.h"

#include <QCheckBox>
#include <QComboBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QToolButton>
#include <QVBoxLayout>

#include <cmath>

namespace moescope::ui {

RoutingMapView::RoutingMapView(SelectionModel *selection, QWidget *parent)
    : QWidget(parent), m_selection(selection), m_canvas(new RoutingMapCanvas(this)),
      m_sequences(new QComboBox(this)), m_dim(new QCheckBox(tr("Dim other experts"), this)), m_info(new QLabel(this))
{
    m_sequences->setSizeAdjustPolicy(QComboBox::AdjustToMinimumContentsLengthWithIcon);
    m_sequences->setMinimumContentsLength(28);
    m_sequences->setToolTip(tr("The sequence shown: its number, label and length"));
    m_dim->setChecked(true);
    m_dim->setToolTip(tr("Fade the cells that did not choose the selected expert"));
    m_info->setTextInteractionFlags(Qt::TextSelectableByMouse);
    m_info->setStyleSheet(QStringLiteral("color: #555"));

    auto button = [this](const QString &text, const QString &tip, auto slot) {
        auto *b = new QToolButton(this);
        b->setText(text);
        b->setToolTip(tip);
        b->setAutoRaise(true);
        connect(b, &QToolButton::clicked, m_canvas, slot);
        return b;
    };
    auto *controls = new QHBoxLayout;
    controls->setContentsMargins(6, 2, 6, 2);
    controls->addWidget(new QLabel(tr("Sequence:"), this));
    controls->addWidget(m_sequences);
    controls->addSpacing(8);
    controls->addWidget(button(tr("Fit"), tr("Show the whole sequence"), &RoutingMapCanvas::zoomToFit));
    controls->addWidget(button(QStringLiteral("\u2212"), tr("Zoom out (-, or the mouse wheel)"), [this] { m_canvas->zoomBy(1 / 2.0); }));
    controls->addWidget(button(QStringLiteral("+"), tr("Zoom in (+, the mouse wheel, or double-click)"), [this] { m_canvas->zoomBy(2.0); }));
    controls->addSpacing(8);
    controls->addWidget(m_dim);
    controls->addStretch();
    controls->addWidget(m_info);
    auto *layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->setSpacing(0);
    layout->addLayout(controls);
    layout->addWidget(m_canvas, 1);

    connect(m_sequences, &QComboBox::currentIndexChanged, this, [this](int index) {
        if (index >= 0)
            m_canvas->setSequence(index);
    });
    connect(m_dim, &QCheckBox::toggled, m_canvas, &RoutingMapCanvas::setDimOthers);
    connect(m_canvas, &RoutingMapCanvas::cellClicked, this, [this](qint64 position, qint64 tokenId, int layer, int expert) {
        m_selection->setPosition(position, tokenId, layer, expert);
    });
    connect(m_canvas, &RoutingMapCanvas::expertClicked, m_selection, &SelectionModel::setExpert);
    connect(m_canvas, &RoutingMapCanvas::viewChanged, this, &RoutingMapView::updateInfo);
    connect(m_selection, &SelectionModel::changed, this, [this](const Selection &s) {
        m_canvas->setSelection(s);
        if (m_canvas->sequence() != m_sequences->currentIndex()) {
            const QSignalBlocker block(m_sequences);
            m_sequences->setCurrentIndex(int(m_canvas->sequence()));
        }
        updateInfo();
    });
}

void RoutingMapView::setSnapshot(const DumpSnapshotPtr &snapshot)
{
    m_snapshot = snapshot;
    {
        const QSignalBlocker block(m_sequences);
        m_sequences->clear();
        if (snapshot) {
            // Very many sequences would make a combo box unwieldy; the first 20,000
            // are listed (a click in another view still reaches any of them).
            const std::int64_t S = std::min<std::int64_t>(snapshot->numSequences(), 20000);
            for (std::int64_t s = 0; s < S; ++s) {
                const QString label = snapshot->sequenceLabel(s);
                const std::int64_t length = snapshot->sequenceEnd(s) - snapshot->sequenceBegin(s);
                m_sequences->addItem(label.isEmpty() ? tr("%1  (%2 tokens)").arg(s).arg(formatCount(length))
                                                     : tr("%1  %2  (%3 tokens)").arg(s).arg(label, formatCount(length)));
            }
        }
    }
    m_canvas->setSnapshot(snapshot);
    m_canvas->setSelection(m_selection->current());
    updateInfo();
}

void RoutingMapView::updateInfo()
{
    if (!m_snapshot) {
        m_info->clear();
        return;
    }
    const double begin = m_canvas->viewBegin(), count = m_canvas->visibleTokens();
    QString text = tr("positions %1 to %2").arg(formatCount(std::int64_t(begin)),
                                                formatCount(std::int64_t(std::ceil(begin + count)) - 1));
    const Selection &s = m_selection->current();
    if (s.tokenId >= 0)
        text += tr("   \u25bc marks \u201c%1\u201d").arg(m_snapshot->tokenIdDisplay(s.tokenId));
    m_info->setText(text);
}

} // namespace moescope::ui
