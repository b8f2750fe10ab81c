#include "ExportDialog.h"

#include <QDialogButtonBox>
#include <QDir>
#include <QFileDialog>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QSettings>
#include <QSpinBox>

namespace moescope::ui {

ExportDialog::ExportDialog(const QString &chartName, const QSize &defaultSize, const QString &directory, QWidget *parent)
    : QDialog(parent), m_path(new QLineEdit(this)), m_width(new QSpinBox(this)), m_height(new QSpinBox(this)),
      m_dpi(new QSpinBox(this)), m_pixels(new QLabel(this))
{
    setWindowTitle(tr("Export %1").arg(chartName));
    QSettings settings;
    const QString suffix = settings.value(QStringLiteral("export/suffix"), QStringLiteral("png")).toString();
    m_path->setText(QDir(directory).filePath(chartName + u'.' + suffix));
    for (QSpinBox *box : {m_width, m_height}) {
        box->setRange(16, 20000);
        box->setSuffix(tr(" px"));
    }
    m_width->setValue(defaultSize.width());
    m_height->setValue(defaultSize.height());
    m_dpi->setRange(24, 1200);
    m_dpi->setValue(settings.value(QStringLiteral("export/dpi"), 96).toInt());
    m_pixels->setStyleSheet(QStringLiteral("color: #666"));

    auto *browse = new QPushButton(tr("Browse..."), this);
    auto *pathRow = new QHBoxLayout;
    pathRow->addWidget(m_path, 1);
    pathRow->addWidget(browse);
    auto *sizeRow = new QHBoxLayout;
    sizeRow->addWidget(m_width);
    sizeRow->addWidget(new QLabel(QStringLiteral("\u00d7"), this));
    sizeRow->addWidget(m_height);
    auto *form = new QFormLayout;
    form->addRow(tr("File (.png .svg .pdf .csv):"), pathRow);
    form->addRow(tr("Size:"), sizeRow);
    form->addRow(tr("Resolution (PNG):"), m_dpi);
    form->addRow(QString(), m_pixels);
    auto *buttons = new QDialogButtonBox(QDialogButtonBox::Ok | QDialogButtonBox::Cancel, this);
    buttons->button(QDialogButtonBox::Ok)->setText(tr("Export"));
    auto *layout = new QVBoxLayout(this);
    layout->addLayout(form);
    layout->addWidget(buttons);

    connect(browse, &QPushButton::clicked, this, &ExportDialog::browse);
    connect(buttons, &QDialogButtonBox::accepted, this, [this] {
        QSettings s;
        s.setValue(QStringLiteral("export/dpi"), m_dpi->value());
        if (const auto format = exportFormatForPath(path()))
            s.setValue(QStringLiteral("export/suffix"), exportFormatName(*format).toLower());
        accept();
    });
    connect(buttons, &QDialogButtonBox::rejected, this, &QDialog::reject);
    connect(m_path, &QLineEdit::textChanged, this, &ExportDialog::updateControls);
    for (QSpinBox *box : {m_width, m_height, m_dpi})
        connect(box, &QSpinBox::valueChanged, this, &ExportDialog::updateControls);
    updateControls();
}

QString ExportDialog::path() const { return m_path->text().trimmed(); }

ExportOptions ExportDialog::options() const { return {QSize(m_width->value(), m_height->value()), m_dpi->value()}; }

void ExportDialog::browse()
{
    const QString chosen = QFileDialog::getSaveFileName(
        this, windowTitle(), path(),
        tr("PNG image (*.png);;SVG drawing (*.svg);;PDF document (*.pdf);;CSV data (*.csv)"));
    if (!chosen.isEmpty())
        m_path->setText(chosen);
}

void ExportDialog::updateControls()
{
    const auto format = exportFormatForPath(path());
    const bool drawing = format && *format != ExportFormat::Csv;
    m_width->setEnabled(drawing);
    m_height->setEnabled(drawing);
    m_dpi->setEnabled(format == ExportFormat::Png);
    if (!format)
        m_pixels->setText(tr("Give the file a .png, .svg, .pdf or .csv suffix"));
    else if (*format == ExportFormat::Png)
        m_pixels->setText(tr("%1 \u00d7 %2 pixels")
                              .arg(m_width->value() * m_dpi->value() / 96)
                              .arg(m_height->value() * m_dpi->value() / 96));
    else if (*format == ExportFormat::Csv)
        m_pixels->setText(tr("The chart's data as comma-separated values"));
    else
        m_pixels->setText(tr("Vector drawing"));
}

} // namespace moescope::ui
