#pragma once
// Asks where to export a chart and how big: the format follows the file's suffix
// (PNG, SVG, PDF or CSV); width and height are in 1/96-inch pixels and DPI scales
// PNGs for print.
#include "ChartExport.h"

#include <QDialog>

class QLineEdit;
class QSpinBox;
class QLabel;

namespace moescope::ui {

class ExportDialog : public QDialog {
    Q_OBJECT
public:
    ExportDialog(const QString &chartName, const QSize &defaultSize, const QString &directory, QWidget *parent = nullptr);
    QString path() const;
    ExportOptions options() const;

private:
    void browse();
    void updateControls();

    QLineEdit *m_path;
    QSpinBox *m_width, *m_height, *m_dpi;
    QLabel *m_pixels;
};

} // namespace moescope::ui
