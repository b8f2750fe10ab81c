#include "SelectionModel.h"

#include <QAction>
#include <QKeySequence>

namespace moescope::ui {

namespace {
constexpr std::size_t kHistoryLimit = 500;

// The platform's Back/Forward keys plus Alt+Left/Alt+Right everywhere, without
// listing one key twice (that would make the shortcut ambiguous).
QList<QKeySequence> shortcuts(QKeySequence::StandardKey standard, const QKeySequence &extra)
{
    QList<QKeySequence> keys = QKeySequence::keyBindings(standard);
    if (!keys.contains(extra))
        keys.append(extra);
    return keys;
}
} // namespace

SelectionModel::SelectionModel(QObject *parent)
    : QObject(parent),
      m_backAction(new QAction(tr("Back"), this)),
      m_forwardAction(new QAction(tr("Forward"), this))
{
    m_backAction->setShortcuts(shortcuts(QKeySequence::Back, QKeySequence(Qt::ALT | Qt::Key_Left)));
    m_forwardAction->setShortcuts(shortcuts(QKeySequence::Forward, QKeySequence(Qt::ALT | Qt::Key_Right)));
    m_backAction->setToolTip(tr("Back to the previous selection (Alt+Left)"));
    m_forwardAction->setToolTip(tr("Forward to the next selection (Alt+Right)"));
    m_backAction->setShortcutContext(Qt::ApplicationShortcut);
    m_forwardAction->setShortcutContext(Qt::ApplicationShortcut);
    connect(m_backAction, &QAction::triggered, this, &SelectionModel::back);
    connect(m_forwardAction, &QAction::triggered, this, &SelectionModel::forward);
    updateActions();
}

void SelectionModel::select(const Selection &selection)
{
    if (selection == m_current)
        return;
    m_back.push_back(m_current);
    if (m_back.size() > kHistoryLimit)
        m_back.erase(m_back.begin());
    m_forward.clear();
    moveTo(selection);
}

void SelectionModel::setLayer(int layer)
{
    Selection s = m_current;
    s.layer = layer;
    select(s);
}

void SelectionModel::setExpert(int expert)
{
    Selection s = m_current;
    s.expert = expert;
    select(s);
}

void SelectionModel::setLayerAndExpert(int layer, int expert)
{
    Selection s = m_current;
    s.layer = layer;
    s.expert = expert;
    select(s);
}

void SelectionModel::setPosition(std::int64_t position, std::int64_t tokenId, int layer, int expert)
{
    Selection s = m_current;
    s.position = position;
    s.tokenId = tokenId;
    if (layer >= 0)
        s.layer = layer;
    if (expert >= 0)
        s.expert = expert;
    select(s);
}

void SelectionModel::setTokenId(std::int64_t tokenId)
{
    Selection s = m_current;
    s.tokenId = tokenId;
    select(s);
}

void SelectionModel::reset(const Selection &selection)
{
    m_back.clear();
    m_forward.clear();
    moveTo(selection);
}

void SelectionModel::back()
{
    if (m_back.empty())
        return;
    m_forward.push_back(m_current);
    const Selection target = m_back.back();
    m_back.pop_back();
    moveTo(target);
}

void SelectionModel::forward()
{
    if (m_forward.empty())
        return;
    m_back.push_back(m_current);
    const Selection target = m_forward.back();
    m_forward.pop_back();
    moveTo(target);
}

void SelectionModel::moveTo(const Selection &selection)
{
    const Selection previous = m_current;
    m_current = selection;
    updateActions();
    emit changed(m_current, previous);
}

void SelectionModel::updateActions()
{
    m_backAction->setEnabled(canGoBack());
    m_forwardAction->setEnabled(canGoForward());
}

} // namespace moescope::ui
