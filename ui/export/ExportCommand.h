#pragma once
// `moescope export FILE --chart NAME [--layer L] [--expert E] [--sequence S]
//  [--width W --height H --dpi D] -o OUT.{png,svg,pdf,csv}` (cli.md): draws one chart
// headless, with the same widgets the window uses, and writes it atomically.
// Exit codes: 0 written, 1 a file refused (unreadable dump, nothing to draw, cannot
// write OUT), 2 bad arguments.
#include <QString>
#include <QStringList>

#include <optional>

namespace moescope::ui {

struct ExportArguments {
    QString file;
    QString chart;
    QString output;
    std::optional<long long> layer, expert, sequence;
    int width = 0, height = 0, dpi = 96;
};

inline const QStringList &exportChartNames()
{
    static const QStringList names = {"overview", "utilization", "routing-map", "profile", "training",
                                        "co-activation", "transitions", "report"};
    return names;
}

// Parses the words after "export"; on failure returns nullopt and sets `error`.
std::optional<ExportArguments> parseExportArguments(const QStringList &words, QString &error);

// Runs the command; needs a Q(Gui)Application. Messages go to stderr.
int runExport(const ExportArguments &args);

} // namespace moescope::ui
