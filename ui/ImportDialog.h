#pragma once
// File > Import...: another tool's routing record (docs/importers.md) made into a
// dump. The user picks the source (a file or a folder), the format (detected unless
// chosen), the output file and the source options; the import runs off the GUI thread
// with a progress bar and a Cancel button; a refused source is explained in a dialog
// and the form stays filled in to fix it. On success the dialog is accepted and
// outputPath() is the dump to open; warnings() says what the import had to assume.
#include <QDialog>
#include <QFutureWatcher>
#include <QMap>
#include <QStringList>

#include <atomic>
#include <memory>

class QComboBox;
class QDialogButtonBox;
class QLineEdit;
class QProgressBar;
class QSpinBox;

namespace moescope::ui {

class ImportDialog : public QDialog {
    Q_OBJECT
public:
    explicit ImportDialog(QWidget *parent = nullptr);
    ~ImportDialog() override;

    void setSource(const QString &path);
    void setOutput(const QString &path);
    void setFormat(const QString &name);              // "" detects
    void setOption(const QString &name, const QString &value);
    QString outputPath() const;
    QStringList warnings() const { return m_warnings; }
    bool running() const;

    // Starts the import (the Import button does this).
    void start();

signals:
    // The import ended: `error` is empty on success (then the dialog is accepted).
    void finished(const QString &error);

private:
    struct Outcome {
        QString error;
        QStringList warnings;
    };
    void chooseSource(bool folder);
    void chooseOutput();
    void sourceChanged();
    void showFormatOptions(); // a chosen format's own options only; with detection, all
    void done();
    void setRunning(bool running);
    void tell(int icon, const QString &title, const QString &text);

    QLineEdit *m_source, *m_output;
    QComboBox *m_format;
    QSpinBox *m_experts;
    QMap<QString, QLineEdit *> m_options;
    QProgressBar *m_progress;
    QDialogButtonBox *m_buttons;
    QFutureWatcher<Outcome> m_watcher;
    std::shared_ptr<std::atomic<bool>> m_cancel;
    QStringList m_warnings;
    bool m_outputEdited = false;
};

} // namespace moescope::ui
