#include "Csv.h"

#include <cmath>

namespace moescope::ui {

QString csvField(const QString &value)
{
    if (!value.contains(u',') && !value.contains(u'"') && !value.contains(u'\n') && !value.contains(u'\r'))
        return value;
    QString quoted = value;
    quoted.replace(u'"', QStringLiteral("\"\""));
    return u'"' + quoted + u'"';
}

void writeCsvRow(QTextStream &out, const QStringList &fields)
{
    for (qsizetype i = 0; i < fields.size(); ++i) {
        if (i)
            out << ',';
        out << csvField(fields[i]);
    }
    out << "\r\n";
}

QString csvNumber(double value)
{
    if (std::isnan(value))
        return {};
    return QString::number(value, 'g', 10);
}

} // namespace moescope::ui
