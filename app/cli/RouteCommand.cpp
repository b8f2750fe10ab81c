// `route`: the routing re-run from the logits under other rules (cli.md), then the
// report of `stats`, plus the what-ifs of core/routing when asked for:
//   --sweep-capacity A:B:STEP   drops for every capacity factor of the range, one pass;
//   --expert-choice             each expert takes its C best tokens: who is left out;
//   --balance-bias U [--batch-tokens B]  DeepSeek-V3's bias balancing replayed.
// Each adds one top-level object to the JSON (per layer inside), after "layers".
#include "analysis/AnalysisPipeline.h"
#include "io/OpenDump.h"
#include "io/ReadLimits.h"
#include "cli/Arguments.h"
#include "cli/Commands.h"
#include "cli/JsonWriter.h"
#include "cli/ReportPrinter.h"
#include "cli/TerminalProgress.h"
#include "routing/BackendFactory.h"

#include <algorithm>
#include <cstdio>
#include <iostream>
#include <optional>

namespace moescope::cli {

namespace {

constexpr long long kDefaultBatchTokens = 4096;

struct RouteOptions {
    std::optional<std::vector<double>> sweep;   // capacity factors
    bool expertChoice = false;
    std::optional<double> balanceRate;          // U
    std::int64_t batchTokens = kDefaultBatchTokens;
};

std::vector<double> parseSweep(const std::string &text)
{
    double a = 0, b = 0, step = 0;
    char tail = 0;
    if (std::sscanf(text.c_str(), "%lf:%lf:%lf%c", &a, &b, &step, &tail) != 3)
        throw ArgumentError("--sweep-capacity needs A:B:STEP (e.g. 0.5:2:0.25), got '" + text + "'");
    try {
        return capacityFactorRange(a, b, step);
    } catch (const std::invalid_argument &e) {
        throw ArgumentError(std::string("--sweep-capacity: ") + e.what());
    }
}

RouteOptions parseOptions(const Arguments &args)
{
    RouteOptions o;
    if (const auto text = args.option("sweep-capacity"))
        o.sweep = parseSweep(*text);
    o.expertChoice = args.flag("expert-choice");
    o.balanceRate = args.number("balance-bias");
    if (o.balanceRate && !(*o.balanceRate > 0))
        throw ArgumentError("--balance-bias must be a positive update rate U");
    if (const auto batch = args.integer("batch-tokens")) {
        if (!o.balanceRate)
            throw ArgumentError("--batch-tokens goes with --balance-bias U");
        if (*batch < 1)
            throw ArgumentError("--batch-tokens must be at least 1");
        o.batchTokens = *batch;
    }
    return o;
}

// `members` written as an object's members (no braces) and spliced into `json`, a
// single JSON object followed by a newline.
std::string withMembers(const std::string &json, const std::string &object)
{
    const std::size_t close = json.rfind('}');
    const std::string inner = object.substr(1, object.size() - 2);
    if (close == std::string::npos || inner.empty())
        return json;
    return json.substr(0, close) + "," + inner + json.substr(close);
}

std::string extrasJson(const std::vector<LayerAnalysis> &extras, const RouteOptions &o, DropPolicy sweepPolicy,
                       CapacityGroup grouping, double capacityFactor)
{
    JsonWriter w;
    w.beginObject();
    const char *group = grouping == CapacityGroup::Sequence ? "sequence" : "dump";
    if (o.sweep) {
        w.key("capacity_sweep").beginObject();
        w.key("policy").value(dropPolicyName(sweepPolicy));
        w.key("capacity_group").value(group);
        w.key("capacity_factors").array(*o.sweep);
        w.key("layers").beginArray();
        for (const LayerAnalysis &l : extras) {
            w.beginObject();
            w.key("position").value(l.position);
            w.key("name").value(l.report.name);
            w.key("capacity").array(l.sweep->capacity);
            w.key("dropped_fraction").array(l.sweep->droppedFraction);
            w.key("fully_dropped_fraction").array(l.sweep->fullyDroppedFraction);
            w.endObject();
        }
        w.endArray().endObject();
    }
    if (o.expertChoice) {
        w.key("expert_choice").beginObject();
        w.key("capacity_factor").value(capacityFactor);
        w.key("capacity_group").value(group);
        w.key("layers").beginArray();
        for (const LayerAnalysis &l : extras) {
            const ExpertChoiceResult &r = *l.expertChoice;
            // Valid tokens by how many experts took them (0, 1, 2, ...).
            std::vector<std::int64_t> perToken;
            for (std::size_t t = 0; t < r.expertsOfToken.size(); ++t) {
                const auto n = std::size_t(r.expertsOfToken[t]);
                if (perToken.size() <= n)
                    perToken.resize(n + 1, 0);
                ++perToken[n];
            }
            if (!perToken.empty())
                perToken[0] = r.unrouted;
            w.beginObject();
            w.key("position").value(l.position);
            w.key("name").value(l.report.name);
            w.key("capacity").array(r.capacity);
            w.key("counts").array(r.taken);
            w.key("unrouted_tokens").value(r.unrouted);
            w.key("unrouted_fraction").value(r.unroutedFraction());
            w.key("unrouted_by_position").array(r.unroutedByPosition);
            w.key("tokens_by_experts").array(perToken);
            w.endObject();
        }
        w.endArray().endObject();
    }
    if (o.balanceRate) {
        w.key("balance").beginObject();
        w.key("update_rate").value(*o.balanceRate);
        w.key("batch_tokens").value(o.batchTokens);
        w.key("layers").beginArray();
        for (const LayerAnalysis &l : extras) {
            w.beginObject();
            w.key("position").value(l.position);
            w.key("name").value(l.report.name);
            w.key("max_vio_with").array(l.balance->maxVioWith);
            w.key("max_vio_without").array(l.balance->maxVioWithout);
            w.key("final_bias").array(l.balance->finalBias);
            w.endObject();
        }
        w.endArray().endObject();
    }
    w.endObject();
    return w.text();
}

double meanOf(const std::vector<double> &v, std::size_t from)
{
    double sum = 0;
    std::size_t n = 0;
    for (std::size_t i = from; i < v.size(); ++i)
        if (v[i] == v[i]) {
            sum += v[i];
            ++n;
        }
    return n ? sum / double(n) : 0.0 / 0.0;
}

std::string extrasText(const std::vector<LayerAnalysis> &extras, const RouteOptions &o, DropPolicy sweepPolicy)
{
    std::string out;
    char line[256];
    for (const LayerAnalysis &l : extras) {
        if (l.sweep) {
            std::snprintf(line, sizeof line, "capacity sweep, layer %s (%s): CF dropped fully-dropped\n",
                          l.report.name.c_str(), dropPolicyName(sweepPolicy));
            out += line;
            for (std::size_t j = 0; j < l.sweep->factors.size(); ++j) {
                std::snprintf(line, sizeof line, "  %8.4f %8.4f %8.4f\n", l.sweep->factors[j],
                              l.sweep->droppedFraction[j], l.sweep->fullyDroppedFraction[j]);
                out += line;
            }
        }
        if (l.expertChoice) {
            const ExpertChoiceResult &r = *l.expertChoice;
            std::snprintf(line, sizeof line, "expert choice, layer %s: C=%lld, %lld of %lld tokens taken by no expert (%.4f)\n",
                          l.report.name.c_str(), static_cast<long long>(r.capacity.empty() ? 0 : r.capacity.front()),
                          static_cast<long long>(r.unrouted), static_cast<long long>(r.validTokens),
                          r.unroutedFraction());
            out += line;
        }
        if (l.balance) {
            const BalanceResult &b = *l.balance;
            const std::size_t lastQuarter = b.maxVioWith.size() * 3 / 4;
            std::snprintf(line, sizeof line,
                          "balance, layer %s: %zu batches of %lld, mean MaxVio with bias %.4f (last quarter %.4f), "
                          "without %.4f\n",
                          l.report.name.c_str(), b.maxVioWith.size(), static_cast<long long>(o.batchTokens),
                          meanOf(b.maxVioWith, 0), meanOf(b.maxVioWith, lastQuarter), meanOf(b.maxVioWithout, 0));
            out += line;
        }
    }
    return out;
}

} // namespace

int routeCommand(const Words &words)
{
    const Arguments args(words, {"json", "expert-choice"},
                         {"scoring", "top-k", "capacity-factor", "drop", "capacity-group", "device", "balance-bias",
                          "batch-tokens", "sweep-capacity"});
    const std::string file = args.file();
    const auto cf = args.number("capacity-factor");
    if (cf && *cf <= 0)
        throw ArgumentError("--capacity-factor must be positive");
    const std::string scoring = args.choice("scoring", {"softmax", "sigmoid"}, "");
    const std::string drop = args.choice("drop", {"token-order", "score-priority", "none"}, "token-order");
    const std::string group = args.choice("capacity-group", {"dump", "sequence"}, "dump");
    const Device device = parseDevice(args.choice("device", {"cpu", "gpu", "auto"}, "auto"));
    const auto topK = args.integer("top-k");
    const RouteOptions options = parseOptions(args);

    const auto opened = openDump(file);
    const RoutingDump &dump = *opened;
    const DumpInfo &info = dump.info();
    if (topK && (*topK < 1 || *topK > std::min(info.numExperts, kMaxTopK)))
        throw ArgumentError("--top-k must be 1 to E = " + std::to_string(info.numExperts) + " (and at most " +
                            std::to_string(kMaxTopK) + ")");
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

    AnalysisRequest request;
    request.capacityFactor = cf;
    request.drops.policy = drop == "none" ? DropPolicy::None
                         : drop == "score-priority" ? DropPolicy::ScorePriority
                                                    : DropPolicy::TokenOrder;
    request.drops.group = group == "sequence" ? CapacityGroup::Sequence : CapacityGroup::Dump;
    request.reroute = rules;
    request.capacitySweep = options.sweep;
    request.expertChoice = options.expertChoice;
    if (options.balanceRate)
        request.balance = BalanceRequest{*options.balanceRate, options.batchTokens};
    request.backend = backend.get();
    TerminalProgress progress("route");
    const AnalysisResult result = runAnalysis(dump, request, progress.progress());
    const DumpReport &report = result.report;
    const DropPolicy sweepPolicy = result.sweepPolicy;
    for (const auto &w : report.warnings)
        std::cerr << "warning: " << w << "\n";
    for (const auto &w : backend->takeWarnings())
        std::cerr << "warning: " << w << "\n";

    if (args.flag("json")) {
        const bool anyExtras = options.sweep || options.expertChoice || options.balanceRate;
        const std::string json = reportJson(report);
        std::cout << (anyExtras ? withMembers(json, extrasJson(result.layers, options, sweepPolicy, result.drops.group,
                                                                 result.drops.capacityFactor))
                                : json);
    } else {
        std::cout << reportText(report) << extrasText(result.layers, options, sweepPolicy);
    }
    return 0;
}

} // namespace moescope::cli
