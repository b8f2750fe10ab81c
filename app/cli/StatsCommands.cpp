// `stats`: the recorded routing (`route`, the routing re-run, is in RouteCommand.cpp).
#include "analysis/AnalysisPipeline.h"
#include "analysis/SummaryCache.h"
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
    const Arguments args(words, {"json", "no-cache"}, {"capacity-factor"});
    const std::string file = args.file();
    const auto cf = args.number("capacity-factor");
    if (cf)
        checkCapacityFactor(*cf);
    AnalysisRequest request;
    request.capacityFactor = cf;
    request.drops.policy = DropPolicy::TokenOrder;
    // A dump seen before is answered from the summary cache (SummaryCache.h) without
    // being opened: the entry holds its info too.
    const SummaryCache cache = args.flag("no-cache") ? SummaryCache{} : SummaryCache::standard();
    std::optional<CachedSummary> summary = cache.load(file, request);
    if (!summary) {
        const auto opened = openDump(file);
        TerminalProgress progress("stats");
        summary = CachedSummary{opened->info(), buildReport(*opened, request, progress.progress())};
        cache.store(file, request, summary->info, summary->report);
    }
    const DumpInfo &info = summary->info;
    DumpReport &report = summary->report;
    report.file = info.path;
    report.warnings = info.warnings;
    for (std::string &w : storedCountsWarnings(info, report))
        report.warnings.push_back(std::move(w));
    printWarnings(report);
    std::cout << (args.flag("json") ? reportJson(report) : reportText(report));
    return 0;
}

} // namespace moescope::cli
