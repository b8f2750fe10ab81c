#include "ImportDialog.h"

#include "import/ImportFormats.h"
#include "io/DumpError.h"

#include <QComboBox>
#include <QDialogButtonBox>
#include <QFileDialog>
#include <QFileInfo>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QMessageBox>
#include <QProgressBar>
#include <QPushButton>
#include <QSettings>
#include <QSpinBox>
#include <QtConcurrent/QtConcurrentRun>

#include <algorithm>

namespace moescope::ui {

ImportDialog::ImportDialog(QWidget *parent) : QDialog(parent)
{
    setWindowTitle(tr("Import a routing record"));
    auto *form = new QFormLayout;
    m_source = new QLineEdit;
    auto *sourceRow = new QHBoxLayout;
    sourceRow->addWidget(m_source, 1);
    auto *folder = new QPushButton(tr("Folder..."));
    auto *file = new QPushButton(tr("File..."));
    sourceRow->addWidget(folder);
    sourceRow->addWidget(file);
    form->addRow(tr("Source:"), sourceRow);
    connect(folder, &QPushButton::clicked, this, [this] { chooseSource(true); });
    connect(file, &QPushButton::clicked, this, [this] { chooseSource(false); });
    connect(m_source, &QLineEdit::textChanged, this, &ImportDialog::sourceChanged);

    m_format = new QComboBox;
    m_format->addItem(tr("Detect from the source"), QString());
    for (const import::ImportFormat &f : import::importFormats())
        m_format->addItem(QString::fromStdString(f.description), QString::fromStdString(f.name));
    form->addRow(tr("Format:"), m_format);
    // A chosen format's own options only; with detection, every format's.
    connect(m_format, &QComboBox::currentIndexChanged, this, &ImportDialog::showFormatOptions);

    m_experts = new QSpinBox;
    m_experts->setRange(0, 4096);
    m_experts->setSpecialValueText(tr("from the record"));
    form->addRow(tr("Experts (E):"), m_experts);
    for (const import::ImportFormat &f : import::importFormats())
        for (const std::string &name : f.options) {
            const QString option = QString::fromStdString(name);
            if (m_options.contains(option))
                continue;
            auto *edit = new QLineEdit;
            edit->setPlaceholderText(tr("optional (%1)").arg(QString::fromStdString(f.name)));
            m_options.insert(option, edit);
            form->addRow(QStringLiteral("--%1:").arg(option), edit);
        }

    m_output = new QLineEdit;
    auto *outputRow = new QHBoxLayout;
    outputRow->addWidget(m_output, 1);
    auto *browse = new QPushButton(tr("Browse..."));
    outputRow->addWidget(browse);
    form->addRow(tr("Write dump to:"), outputRow);
    connect(browse, &QPushButton::clicked, this, &ImportDialog::chooseOutput);
    connect(m_output, &QLineEdit::textEdited, this, [this] { m_outputEdited = true; });

    m_progress = new QProgressBar;
    m_progress->setRange(0, 100);
    m_progress->setVisible(false);
    m_buttons = new QDialogButtonBox(QDialogButtonBox::Cancel);
    m_buttons->addButton(tr("Import"), QDialogButtonBox::AcceptRole);
    connect(m_buttons, &QDialogButtonBox::accepted, this, &ImportDialog::start);
    connect(m_buttons, &QDialogButtonBox::rejected, this, [this] {
        if (running())
            m_cancel->store(true); // the import stops at its next check and removes its file
        else
            reject();
    });
    connect(&m_watcher, &QFutureWatcher<Outcome>::finished, this, &ImportDialog::done);

    auto *layout = new QVBoxLayout(this);
    layout->addLayout(form);
    layout->addWidget(m_progress);
    layout->addWidget(m_buttons);
    resize(620, sizeHint().height());
}

ImportDialog::~ImportDialog()
{
    if (running()) {
        m_cancel->store(true);
        m_watcher.waitForFinished(); // the job holds no pointer to the dialog, but its file must go first
    }
}

// A message box that does not block (open(), not exec()): the dialog stays usable.
void ImportDialog::tell(int icon, const QString &title, const QString &text)
{
    auto *box = new QMessageBox(QMessageBox::Icon(icon), title, text, QMessageBox::Ok, this);
    box->setAttribute(Qt::WA_DeleteOnClose);
    box->open();
}

void ImportDialog::setSource(const QString &path) { m_source->setText(path); }
void ImportDialog::setOutput(const QString &path)
{
    m_output->setText(path);
    m_outputEdited = true;
}
void ImportDialog::setFormat(const QString &name) { m_format->setCurrentIndex(std::max(0, m_format->findData(name))); }
void ImportDialog::setOption(const QString &name, const QString &value)
{
    if (QLineEdit *edit = m_options.value(name))
        edit->setText(value);
}
QString ImportDialog::outputPath() const { return m_output->text(); }
bool ImportDialog::running() const { return m_watcher.isRunning(); }

void ImportDialog::chooseSource(bool folder)
{
    QSettings settings;
    const QString dir = settings.value(QStringLiteral("importDirectory")).toString();
    const QString path = folder ? QFileDialog::getExistingDirectory(this, tr("Record folder"), dir)
                                : QFileDialog::getOpenFileName(this, tr("Record file"), dir);
    if (path.isEmpty())
        return;
    settings.setValue(QStringLiteral("importDirectory"), QFileInfo(path).absolutePath());
    m_source->setText(path);
}

// The output follows the source (beside it, .h5) until the user picks one.
void ImportDialog::sourceChanged()
{
    if (m_outputEdited)
        return;
    const QFileInfo source(m_source->text());
    if (source.fileName().isEmpty())
        return;
    m_output->setText(source.absolutePath() + "/" + source.completeBaseName() + ".h5");
}

void ImportDialog::chooseOutput()
{
    const QString path = QFileDialog::getSaveFileName(this, tr("Write dump to"), m_output->text(),
                                                      tr("Routing dumps (*.h5)"));
    if (!path.isEmpty())
        setOutput(path);
}

void ImportDialog::showFormatOptions()
{
    const import::ImportFormat *f = import::findImportFormat(m_format->currentData().toString().toStdString());
    for (auto it = m_options.cbegin(); it != m_options.cend(); ++it)
        it.value()->setEnabled(!f || std::count(f->options.begin(), f->options.end(), it.key().toStdString()));
}

void ImportDialog::setRunning(bool running)
{
    m_progress->setVisible(running);
    m_progress->setValue(0);
    m_source->setEnabled(!running);
    m_output->setEnabled(!running);
    m_format->setEnabled(!running);
    if (!running)
        showFormatOptions();
    else
        for (QLineEdit *edit : m_options)
            edit->setEnabled(false);
    m_experts->setEnabled(!running);
    for (QAbstractButton *b : m_buttons->buttons())
        if (m_buttons->buttonRole(b) == QDialogButtonBox::AcceptRole)
            b->setEnabled(!running);
}

void ImportDialog::start()
{
    if (running())
        return;
    const std::string source = m_source->text().toStdString(), out = m_output->text().toStdString();
    if (source.empty() || out.empty()) {
        tell(QMessageBox::Warning, tr("Import"), tr("Choose a source and the file to write."));
        emit finished(tr("no source or output chosen"));
        return;
    }
    import::ImportOptions options;
    if (m_experts->value() > 0)
        options.numExperts = m_experts->value();
    for (auto it = m_options.cbegin(); it != m_options.cend(); ++it)
        if (!it.value()->text().trimmed().isEmpty())
            options.values[it.key().toStdString()] = it.value()->text().trimmed().toStdString();
    const std::string formatName = m_format->currentData().toString().toStdString();

    m_cancel = std::make_shared<std::atomic<bool>>(false);
    setRunning(true);
    const auto cancel = m_cancel;
    m_watcher.setFuture(QtConcurrent::run([=, this]() -> Outcome {
        const Progress progress(
            // Queued to the dialog: dropped if it is gone (its destructor waits for the job).
            [this](double f) {
                QMetaObject::invokeMethod(this, [this, f] { m_progress->setValue(int(f * 100)); }, Qt::QueuedConnection);
            },
            cancel.get());
        try {
            const import::ImportFormat *format =
                formatName.empty() ? &import::detectImportFormat(source) : import::findImportFormat(formatName);
            // Options the format does not take are left out rather than refused: the
            // form shows every format's options.
            import::ImportOptions own = options;
            for (auto it = own.values.begin(); it != own.values.end();)
                it = std::count(format->options.begin(), format->options.end(), it->first) ? std::next(it)
                                                                                             : own.values.erase(it);
            const auto result = import::importSource(*format, source, out, own, progress);
            Outcome o;
            for (const std::string &w : result.warnings)
                o.warnings << QString::fromStdString(w);
            return o;
        } catch (const Cancelled &) {
            return {QObject::tr("cancelled"), {}};
        } catch (const std::exception &e) {
            return {QString::fromStdString(e.what()), {}};
        }
    }));
}

void ImportDialog::done()
{
    setRunning(false);
    const Outcome o = m_watcher.result();
    m_warnings = o.warnings;
    emit finished(o.error);
    if (o.error.isEmpty()) {
        accept();
        return;
    }
    if (o.error != tr("cancelled"))
        tell(QMessageBox::Critical, tr("Import failed"), tr("The record could not be imported:\n\n%1").arg(o.error));
}

} // namespace moescope::ui
