#include "MessageBanner.h"

#include <QHBoxLayout>
#include <QLabel>
#include <QToolButton>

namespace moescope::ui {

MessageBanner::MessageBanner(QWidget *parent) : QFrame(parent), m_label(new QLabel(this))
{
    m_label->setWordWrap(true);
    m_label->setTextInteractionFlags(Qt::TextSelectableByMouse);
    auto *close = new QToolButton(this);
    close->setText(QStringLiteral("\u2715"));
    close->setAutoRaise(true);
    close->setToolTip(tr("Dismiss"));
    auto *layout = new QHBoxLayout(this);
    layout->setContentsMargins(10, 6, 6, 6);
    layout->addWidget(m_label, 1);
    layout->addWidget(close, 0, Qt::AlignTop);
    connect(close, &QToolButton::clicked, this, &QWidget::hide);
    hide();
}

void MessageBanner::showMessage(const QString &text, const QString &style)
{
    m_label->setText(text);
    setStyleSheet(style);
    show();
}

void MessageBanner::showError(const QString &text)
{
    showMessage(text, QStringLiteral("moescope--ui--MessageBanner { background: #fbe3e1; border: 1px solid #e0a19b; "
                                     "border-radius: 3px; } QLabel { color: #6d1a12; }"));
}

void MessageBanner::showInfo(const QString &text)
{
    showMessage(text, QStringLiteral("moescope--ui--MessageBanner { background: #e6f0fa; border: 1px solid #a9c6e4; "
                                     "border-radius: 3px; } QLabel { color: #18344f; }"));
}

QString MessageBanner::text() const { return m_label->text(); }

} // namespace moescope::ui
