#pragma once
// File > Open recent: the last files opened, newest first, remembered across runs
// (QSettings "recentFiles"), each with its path in the tooltip, and a Clear entry.
#include <QObject>
#include <QStringList>

class QMenu;

namespace moescope::ui {

class RecentFilesMenu : public QObject {
    Q_OBJECT
public:
    explicit RecentFilesMenu(QMenu *menu);

    QStringList files() const;
    void add(const QString &path); // moves it to the top

signals:
    void openRequested(const QString &path);

private:
    void rebuild();

    QMenu *m_menu;
};

} // namespace moescope::ui
