#pragma once
// How numbers and token texts read in every view and export, so a value looks the
// same in a table, a tooltip and a CSV file.
#include <QString>

#include <cstdint>

namespace moescope::ui {

QString formatCount(std::int64_t n);          // 12,345 (locale grouping)
QString formatPercent(double fraction, int decimals = 1); // 0.123 -> "12.3 %"
QString formatNumber(double v, int decimals = 3);         // "-" for NaN
// A token's text with its whitespace visible: leading/trailing spaces as U+00B7,
// newlines as U+21B5, tabs as U+2192; empty text as U+2205.
QString visibleWhitespace(const QString &text);
// The text users would type for a token: whitespace and BPE space markers removed.
QString searchKey(const QString &text);

} // namespace moescope::ui
