#pragma once
// RFC 4180 CSV fields: quoted only when they hold a comma, quote or line break.
#include <QString>
#include <QStringList>
#include <QTextStream>

namespace moescope::ui {

QString csvField(const QString &value);
void writeCsvRow(QTextStream &out, const QStringList &fields);
// Numbers in CSV are locale-independent with full precision.
QString csvNumber(double value);

} // namespace moescope::ui
