#pragma once
// The headless commands of docs/cli.md. Each takes the words after the
// command name, writes JSON or text to stdout and messages to stderr, and returns the
// exit code: 0 success, 1 a file refused, 2 bad arguments (3: watch's collapse alert).
#include <string>
#include <vector>

namespace moescope::cli {

using Words = std::vector<std::string>;

bool isHeadlessCommand(const std::string &name);
int runHeadlessCommand(const std::string &name, const Words &words);

int infoCommand(const Words &words);
int statsCommand(const Words &words);
int routeCommand(const Words &words);
int profileCommand(const Words &words);
int exportCommand(const Words &words); // needs no QApplication: it makes its own
int placementCommand(const Words &words);
int watchCommand(const Words &words);  // follows a run log; exit 3 on a collapse alert

int compareCommand(const Words &words);
int importCommand(const Words &words); // another tool's record as a dump (docs/importers.md)

// The command names, for usage messages: "info, stats, route, profile, export, placement, watch, compare, import".
std::string commandList();

} // namespace moescope::cli
