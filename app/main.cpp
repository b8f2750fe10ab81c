// moescope: with a headless command (info, stats, route, profile, export, placement, watch, compare, import) it answers
// on stdout and exits; otherwise it opens the desktop application.
#include "cli/Commands.h"
#include "ui/DesktopApp.h"

#include <filesystem>
#include <iostream>
#include <string>

namespace {
void printUsage()
{
    std::cout << "Usage:\n"
                 "  moescope [FILE]                      open the window (default: the bundled sample)\n"
                 "  moescope info FILE [--json]\n"
                 "  moescope stats FILE [--capacity-factor CF] [--json]\n"
                 "  moescope route FILE [--scoring softmax|sigmoid] [--top-k K] [--capacity-factor CF]\n"
                 "                 [--drop token-order|score-priority|none] [--capacity-group dump|sequence]\n"
                 "                 [--device cpu|gpu|auto] [--json]\n"
                 "                 [--sweep-capacity A:B:STEP]    drops for every capacity factor A, A+STEP, .. B\n"
                 "                 [--expert-choice]              each expert takes its C best tokens; who is left out\n"
                 "                 [--balance-bias U [--batch-tokens B]]  bias balancing (DeepSeek-V3) replayed in\n"
                 "                                                batches of B tokens (default 4096), update rate U\n"
                 "  moescope profile FILE --layer L --expert E [--top N] [--json]\n"
                 "  moescope export FILE --chart NAME [--layer L] [--expert E] [--sequence S]\n"
                 "                  [--width W --height H --dpi D] -o OUT.{png,svg,pdf,csv}\n"
                 "                 charts: overview, utilization, routing-map, profile, training,\n"
                 "                         co-activation, adjacent-co-activation, transitions (layer L to\n"
                 "                         L + 1), domains, saturation (FILE and the other checkpoints),\n"
                 "                         placement, report\n"
                 "  moescope placement FILE --ranks R [--policy contiguous|round-robin|eplb] [--replicas P]\n"
                 "                 [--groups G] [--nodes N] [--plan-from FILE] [--capacity-factor CF] [--json]\n"
                 "                 expert-parallel load per rank, stragglers and all-to-all traffic\n"
                 "  moescope watch RUN.h5 [--interval S] [--window W] [--until-step N] [--timeout S] [--json]\n"
                 "                 follows a run log as training writes it; exit 3 on a collapse alert\n"
                 "  moescope compare A.h5 B.h5 [C.h5 ...] [--reference FILE] [--json]\n"
                 "                 checkpoints of one run: saturation, load drift, expert Jaccard, last fluctuation\n"
                 "  moescope import SOURCE -o OUT.h5 [--format megatron|megatron-tpe] [--num-experts E]\n"
                 "                 [--step S] [--ranks LIST] [--ep-size EP] [--top-k K]\n"
                 "                 another tool's routing record as a dump (see docs/importers.md)\n"
                 "  moescope --version\n"
                 "Exit codes: 0 success, 1 a file refused, 2 bad arguments, 3 watch's collapse alert.\n";
}

// A first word that is neither a command, an option (Qt's own, such as -style) nor
// an existing file must not open the window: a script with a typo would wait forever.
// A word that names a file (a '/' or a '.' in it) reports the missing file (exit 1, as
// the commands do); any other word is an unknown command (exit 2).
int refuseFirstWord(const std::string &word)
{
    if (word.find('/') != std::string::npos || word.find('.') != std::string::npos) {
        std::cerr << "moescope: " << word << ": no such file\n";
        return 1;
    }
    std::cerr << "moescope: unknown command '" << word << "'\n"
              << "commands: " << moescope::cli::commandList() << "; or a FILE to open in the window"
              << " (see moescope --help)\n";
    return 2;
}
} // namespace

int main(int argc, char **argv)
{
    if (argc < 2)
        return moescope::ui::runDesktopApp(argc, argv);
    const std::string first = argv[1];
    if (first == "--help" || first == "-h") {
        printUsage();
        return 0;
    }
    if (first == "--version") { // otherwise an option for Qt, and the window would start
        std::cout << "moescope " << MOESCOPE_VERSION << "\n";
        return 0;
    }
    if (moescope::cli::isHeadlessCommand(first))
        return moescope::cli::runHeadlessCommand(first, {argv + 2, argv + argc});
    std::error_code unreadable;
    if (first.empty() || (first[0] != '-' && !std::filesystem::exists(first, unreadable)))
        return refuseFirstWord(first);
    return moescope::ui::runDesktopApp(argc, argv);
}
