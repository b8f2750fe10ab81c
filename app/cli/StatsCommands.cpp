// `stats`: the recorded routing (`route`, the routing re-run, is in RouteCommand.cpp).
#include "analysis/AnalysisPipeline.h"
#include "cli/Arguments.h"
#include "io/OpenDump.h"
#include "cli/Commands.h"
#include "cli/ReportPrinter.h"
#include "cli/TerminalProgress.h"

#include <iostream>

namespace moescope::cli {

namespace {
void printWarnings(const DumpReport &report)
{
    for (const auto &w : report.warnings)
        std::cerr << "warning: " << w << "\n";
}

void checkCapacityFactor(double cf)
{
    if (cf <= 0)
        throw ArgumentError("--capacity-factor must be positive");
}
} // namespace

int statsCommand(const Words &words)
{
    const Arguments args(words, {"json"}, {"capacity-factor"});
    const std::string file = args.file();
    const auto cf = args.number("capacity-factor");
    if (cf)
        checkCapacityFactor(*cf);
    const auto opened = openDump(file);
    const RoutingDump &dump = *opened;
    AnalysisRequest request;
    request.capacityFactor = cf;
    request.drops.policy = DropPolicy::TokenOrder;
    TerminalProgress progress("stats");
    const DumpReport report = buildReport(dump, request, progress.progress());
    printWarnings(report);
    std::cout << (args.flag("json") ? reportJson(report) : reportText(report));
    return 0;
}

} // namespace moescope::cli
