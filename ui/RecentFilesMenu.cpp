#include "RecentFilesMenu.h"

#include <QAction>
#include <QFileInfo>
#include <QMenu>
#include <QSettings>

namespace moescope::ui {

namespace {
constexpr int kRecentFiles = 8;
const QString kRecentKey = QStringLiteral("recentFiles");
} // namespace

RecentFilesMenu::RecentFilesMenu(QMenu *menu) : QObject(menu), m_menu(menu) { rebuild(); }

QStringList RecentFilesMenu::files() const { return QSettings().value(kRecentKey).toStringList(); }

void RecentFilesMenu::add(const QString &path)
{
    const QString absolute = QFileInfo(path).absoluteFilePath();
    QStringList list = files();
    list.removeAll(absolute);
    list.prepend(absolute);
    while (list.size() > kRecentFiles)
        list.removeLast();
    QSettings().setValue(kRecentKey, list);
    rebuild();
}

void RecentFilesMenu::rebuild()
{
    m_menu->clear();
    const QStringList list = files();
    for (int i = 0; i < list.size(); ++i) {
        const QString path = list[i];
        QAction *a = m_menu->addAction(QStringLiteral("&%1  %2").arg(i + 1).arg(QFileInfo(path).fileName()), this,
                                       [this, path] { emit openRequested(path); });
        a->setToolTip(path);
        a->setStatusTip(path);
    }
    m_menu->setEnabled(!list.isEmpty());
    if (!list.isEmpty()) {
        m_menu->addSeparator();
        m_menu->addAction(tr("Clear list"), this, [this] {
            QSettings().remove(kRecentKey);
            rebuild();
        });
    }
}

} // namespace moescope::ui
