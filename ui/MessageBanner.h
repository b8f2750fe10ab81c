#pragma once
// An inline message above the views (an error opening a file, say) that does not
// block: the window stays usable and the banner closes with its button.
#include <QFrame>

class QLabel;

namespace moescope::ui {

class MessageBanner : public QFrame {
    Q_OBJECT
public:
    explicit MessageBanner(QWidget *parent = nullptr);
    void showError(const QString &text);
    void showInfo(const QString &text);
    QString text() const;

private:
    void showMessage(const QString &text, const QString &style);
    QLabel *m_label;
};

} // namespace moescope::ui
