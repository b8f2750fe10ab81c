// `placement`: expert-parallel load per rank and stragglers (docs/placement.md). The
// settings are checked against the dump's E before any layer is read (exit 2 with the
// rule they break); each layer's figures are computed as the pipeline delivers it, so
// the choices of one layer at a time are in memory for the all-to-all.
#include "analysis/AnalysisPipeline.h"
#include "cli/Arguments.h"
#include "cli/Commands.h"
#include "cli/JsonWriter.h"
#include "cli/TerminalProgress.h"
#include "io/DumpError.h"
#include "io/OpenDump.h"
#include "placement/ModelPlacement.h"

#include <chrono>
#include <cstdio>
#include <iostream>
#include <map>

namespace moescope::cli {

namespace {
PlacementSettings settingsFrom(const Arguments &args)
{
    PlacementSettings s;
    const auto ranks = args.integer("ranks");
    if (!ranks)
        throw ArgumentError("--ranks R is required");
    const std::string policy = args.choice("policy", {"contiguous", "round-robin", "eplb"}, "contiguous");
    s.policy = policy == "eplb" ? PlacementPolicy::Eplb
               : policy == "round-robin" ? PlacementPolicy::RoundRobin
                                         : PlacementPolicy::Contiguous;
    auto checked = [](const char *name, std::optional<long long> v, long long fallback) {
        const long long x = v.value_or(fallback);
        if (x < 1 || x > 1'000'000)
            throw ArgumentError(std::string("--") + name + " must be 1 to 1000000, got " + std::to_string(x));
        return int(x);
    };
    s.ranks = checked("ranks", ranks, 1);
    s.physicalExperts = args.integer("replicas") ? checked("replicas", args.integer("replicas"), 1) : 0;
    s.groups = checked("groups", args.integer("groups"), 1);
    s.nodes = checked("nodes", args.integer("nodes"), 1);
    if (s.policy != PlacementPolicy::Eplb && (args.option("groups") || args.option("nodes")))
        throw ArgumentError("--groups and --nodes shape the eplb policy only");
    return s;
}

// Plan loads from another dump: its layers matched to ours by name.
std::vector<std::vector<double>> planFrom(const std::string &file, const DumpInfo &target)
{
    const auto opened = openDump(file);
    const DumpInfo &info = opened->info();
    if (info.numExperts != target.numExperts)
        throw DumpError(file, "", "has " + std::to_string(info.numExperts) + " experts per layer, " +
                                        target.path + " has " + std::to_string(target.numExperts) +
                                        ": a plan needs the same experts");
    TerminalProgress progress("placement (plan)");
    const DumpReport report = buildReport(*opened, {}, progress.progress());
    std::map<std::string, const LayerReport *> byName;
    for (const LayerReport &l : report.layers)
        byName[l.name] = &l;
    std::vector<std::vector<double>> plans;
    for (const LayerInfo &l : target.layers) {
        const auto it = byName.find(l.name);
        if (it == byName.end())
            throw DumpError(file, "/layers/" + l.name, "is missing: the plan needs every layer of " + target.path);
        plans.emplace_back(it->second->counts.begin(), it->second->counts.end());
    }
    return plans;
}

void writeJson(const std::string &file, const std::optional<std::string> &plan, const ModelPlacement &m)
{
    JsonWriter w;
    w.beginObject();
    w.key("file").value(file);
    w.key("ranks").value(m.settings.ranks);
    w.key("policy").value(placementPolicyName(m.settings.policy));
    w.key("replicas").value(m.layers.empty() ? 0 : int(m.layers.front().placement.slotExpert.size()));
    w.key("groups").value(m.settings.groups);
    w.key("nodes").value(m.settings.nodes);
    w.key("plan_from").value(plan);
    w.key("capacity_factor").value(m.capacityFactor);
    w.key("model_straggler").value(m.modelStraggler);
    w.key("layers").beginArray();
    for (std::size_t i = 0; i < m.layers.size(); ++i) {
        const LayerPlacementFigures &f = m.layers[i];
        w.beginObject();
        w.key("name").value(m.names[i]);
        w.key("rank_load").array(f.rankLoad);
        w.key("straggler").value(f.straggler);
        w.key("dropped_fraction").value(f.droppedFraction);
        w.key("rank_pooled_dropped_fraction").value(f.rankPooledDroppedFraction);
        if (f.allToAll) {
            w.key("all_to_all").beginArray();
            for (int s = 0; s < f.allToAll->ranks; ++s)
                w.array(std::vector<double>(f.allToAll->volume.begin() + std::ptrdiff_t(s) * f.allToAll->ranks,
                                            f.allToAll->volume.begin() + std::ptrdiff_t(s + 1) * f.allToAll->ranks));
            w.endArray();
            w.key("leaving_share").value(f.allToAll->leavingShare);
        } else {
            w.key("all_to_all").null(); // a load-only layer: the all-to-all needs the tokens
            w.key("leaving_share").null();
        }
        w.key("rank_experts").beginArray(); // the experts on each rank, a replica once per slot
        for (int r = 0; r < f.placement.ranks; ++r) {
            const int per = f.placement.slotsPerRank();
            w.array(std::vector<int>(f.placement.slotExpert.begin() + r * per,
                                     f.placement.slotExpert.begin() + (r + 1) * per));
        }
        w.endArray();
        w.endObject();
    }
    w.endArray();
    w.endObject();
    std::cout << w.text() << "\n";
}

void writeText(const std::string &file, const ModelPlacement &m)
{
    const int P = m.layers.empty() ? 0 : int(m.layers.front().placement.slotExpert.size());
    std::printf("%s: %s on R=%d ranks, P=%d physical experts, CF=%.2f; model straggler %.3f\n", file.c_str(),
                placementPolicyName(m.settings.policy), m.settings.ranks, P, m.capacityFactor, m.modelStraggler);
    std::printf("%-12s %9s %12s %12s %8s %8s %8s\n", "layer", "straggler", "max rank", "mean rank", "dropped",
                "pooled", "leaving");
    for (std::size_t i = 0; i < m.layers.size(); ++i) {
        const LayerPlacementFigures &f = m.layers[i];
        double top = 0, total = 0;
        for (double l : f.rankLoad) {
            top = std::max(top, l);
            total += l;
        }
        char leaving[32] = "-";
        if (f.allToAll)
            std::snprintf(leaving, sizeof leaving, "%.4f", f.allToAll->leavingShare);
        std::printf("%-12s %9.3f %12.1f %12.1f %8.4f %8.4f %8s\n", m.names[i].c_str(), f.straggler, top,
                    total / double(f.rankLoad.size()), f.droppedFraction, f.rankPooledDroppedFraction, leaving);
    }
    for (const LayerPlacementFigures &f : m.layers)
        if (!f.allToAll) {
            std::printf("leaving '-': the all-to-all needs each token's choices; a load-only layer has none\n");
            break;
        }
}
} // namespace

int placementCommand(const Words &words)
{
    const Arguments args(words, {"json"},
                         {"ranks", "policy", "replicas", "groups", "nodes", "plan-from", "capacity-factor"});
    const std::string file = args.file();
    const PlacementSettings settings = settingsFrom(args);
    const auto cf = args.number("capacity-factor");
    if (cf && *cf <= 0)
        throw ArgumentError("--capacity-factor must be positive");

    const auto opened = openDump(file);
    const DumpInfo &info = opened->info();
    const std::string broken = placementRuleBroken(settings, info.numExperts);
    if (!broken.empty())
        throw ArgumentError(broken);
    for (const auto &w : info.warnings)
        std::cerr << "warning: " << w << "\n";
    const auto plan = args.option("plan-from");
    const std::vector<std::vector<double>> plans = plan ? planFrom(*plan, info) : std::vector<std::vector<double>>{};

    // Each layer placed as the pipeline hands it over, its choices then dropped.
    AnalysisRequest request;
    request.capacityFactor = cf;
    ModelPlacement model;
    model.settings = settings;
    model.capacityFactor = effectiveCapacityFactor(info, cf);
    std::vector<std::vector<double>> rankLoadPerLayer;
    double placingSeconds = 0;
    TerminalProgress progress("placement");
    const DumpReport report =
        runAnalysis(*opened, request, progress.progress(), [&](const LayerAnalysis &layer) {
            const LayerReport &l = layer.report;
            const std::vector<double> load(l.counts.begin(), l.counts.end());
            const auto start = std::chrono::steady_clock::now();
            model.names.push_back(l.name);
            model.layers.push_back(evaluatePlacement(settings, plans.empty() ? load : plans[l.position], load,
                                                     double(info.topK) * double(l.tokens), model.capacityFactor,
                                                     layer.pass ? &layer.pass->choices : nullptr));
            rankLoadPerLayer.push_back(model.layers.back().rankLoad);
            placingSeconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        }).report;
    model.modelStraggler = modelStragglerFactor(rankLoadPerLayer);
    std::cerr << "placement: " << model.layers.size() << " layers placed and evaluated in "
              << placingSeconds * 1e3 << " ms (after the counts)\n";
    if (args.flag("json"))
        writeJson(file, plan, model);
    else
        writeText(file, model);
    return 0;
}

} // namespace moescope::cli
