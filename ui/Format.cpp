#include "Format.h"

#include <QLocale>

#include <cmath>

namespace moescope::ui {

QString formatCount(std::int64_t n) { return QLocale().toString(qlonglong(n)); }

QString formatPercent(double fraction, int decimals)
{
    if (std::isnan(fraction))
        return QStringLiteral("-");
    return QString::number(fraction * 100.0, 'f', decimals) + QStringLiteral(" %");
}

QString formatNumber(double v, int decimals)
{
    if (std::isnan(v))
        return QStringLiteral("-");
    return QString::number(v, 'f', decimals);
}

QString visibleWhitespace(const QString &text)
{
    if (text.isEmpty())
        return QStringLiteral("\u2205");
    QString out;
    out.reserve(text.size());
    // Leading and trailing spaces matter ("def" and " def" are different tokens).
    qsizetype lead = 0, trail = text.size();
    while (lead < text.size() && text[lead] == u' ')
        ++lead;
    while (trail > lead && text[trail - 1] == u' ')
        --trail;
    for (qsizetype i = 0; i < text.size(); ++i) {
        const QChar c = text[i];
        if (c == u'\n')
            out += QChar(0x21B5);
        else if (c == u'\t')
            out += QChar(0x2192);
        else if (c == u'\r')
            out += QChar(0x240D);
        else if (c == u' ' && (i < lead || i >= trail))
            out += QChar(0x00B7);
        else
            out += c;
    }
    return out;
}

QString searchKey(const QString &text)
{
    QString key = text;
    // GPT-2 style (U+0120) and SentencePiece (U+2581) word-start markers.
    key.remove(QChar(0x0120));
    key.remove(QChar(0x2581));
    return key.trimmed();
}

} // namespace moescope::ui
