// `stats` (the recorded routing) and `route` (the routing re-run under other rules).
#include "cli/Arguments.h"
#include "cli/Commands.h"
#include "cli/ReportPrinter.h"
#include "cli/TerminalProgress.h"
#include "routing/BackendFactory.h"

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
    const RoutingDump dump(file);
    ReportRequest request;
    request.capacityFactor = effectiveCapacityFactor(dump.info(), cf);
    request.drops.policy = DropPolicy::TokenOrder;
    TerminalProgress progress("stats");
    const DumpReport report = buildReport(dump, request, progress.progress());
    printWarnings(report);
    std::cout << (args.flag("json") ? reportJson(report) : reportText(report));
    return 0;
}

int routeCommand(const Words &words)
{
    const Arguments args(words, {"json"},
                         {"scoring", "top-k", "capacity-factor", "drop", "capacity-group", "device"});
    const std::string file = args.file();
    const auto cf = args.number("capacity-factor");
    if (cf)
        checkCapacityFactor(*cf);
    const std::string scoring = args.choice("scoring", {"softmax", "sigmoid"}, "");
    const std::string drop = args.choice("drop", {"token-order", "score-priority", "none"}, "token-order");
    const std::string group = args.choice("capacity-group", {"dump", "sequence"}, "dump");
    const Device device = parseDevice(args.choice("device", {"cpu", "gpu", "auto"}, "auto"));
    const auto topK = args.integer("top-k");

    const RoutingDump dump(file);
    const DumpInfo &info = dump.info();
    if (topK && (*topK < 1 || *topK > info.numExperts))
        throw ArgumentError("--top-k must be 1 to E = " + std::to_string(info.numExperts));
    bool anyLogits = false;
    for (const auto &l : info.layers)
        anyLogits |= l.hasLogits;
    if (!anyLogits)
        throw DumpError(file, "/layers", "no layer holds logits, so there is nothing to re-route");

    RoutingRules rules = info.routingRules(0);
    if (!scoring.empty())
        rules.scoring = scoring == "sigmoid" ? Scoring::Sigmoid : Scoring::Softmax;
    if (topK) {
        rules.topK = int(*topK);
        if (rules.groupLimited() && rules.topKGroups * (info.numExperts / rules.numGroups) < rules.topK)
            throw ArgumentError("--top-k exceeds the experts of the eligible groups");
    }

    std::string notice;
    const auto backend = makeBackend(device, notice);
    if (!notice.empty())
        std::cerr << notice << "\n";

    ReportRequest request;
    request.capacityFactor = effectiveCapacityFactor(info, cf);
    request.drops.policy = drop == "none" ? DropPolicy::None
                         : drop == "score-priority" ? DropPolicy::ScorePriority
                                                    : DropPolicy::TokenOrder;
    request.drops.group = group == "sequence" ? CapacityGroup::Sequence : CapacityGroup::Dump;
    request.reroute = rules;
    request.logitsLayersOnly = true;
    request.backend = backend.get();
    TerminalProgress progress("route");
    const DumpReport report = buildReport(dump, request, progress.progress());
    printWarnings(report);
    std::cout << (args.flag("json") ? reportJson(report) : reportText(report));
    return 0;
}

} // namespace moescope::cli
