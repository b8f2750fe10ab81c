#include "cli/ReportPrinter.h"

#include "cli/JsonWriter.h"

#include <cstdio>

namespace moescope::cli {

std::string reportJson(const DumpReport &report)
{
    JsonWriter w;
    w.beginObject();
    w.key("file").value(report.file);
    w.key("tokens").value(report.tokens);
    w.key("num_experts").value(report.numExperts);
    w.key("top_k").value(report.topK);
    w.key("capacity_factor").value(report.capacityFactor);
    w.key("layers").beginArray();
    for (const LayerReport &l : report.layers) {
        w.beginObject();
        w.key("position").value(l.position);
        w.key("name").value(l.name);
        w.key("index").value(l.index);
        w.key("tokens").value(l.tokens);
        w.key("counts").array(l.counts);
        w.key("hot").array(l.load.hot);
        w.key("cold").array(l.load.cold);
        w.key("cv").value(l.load.cv);
        w.key("max_vio").value(l.load.maxVio);
        w.key("entropy").value(l.load.entropy);
        w.key("lb_loss").value(l.lbLoss);
        w.key("z_loss").value(l.zLoss);
        // A load-only layer knows its counts, not each token's choices: what needs
        // those is null.
        auto unlessCountsOnly = [&](auto v) { return l.countsOnly ? std::nullopt : std::optional(v); };
        w.key("dropped_fraction").value(unlessCountsOnly(l.drops.droppedFraction));
        w.key("fully_dropped_fraction").value(unlessCountsOnly(l.drops.fullyDroppedFraction));
        w.key("straggler_factor").value(unlessCountsOnly(l.drops.stragglerFactor));
        w.key("invalid_tokens").value(unlessCountsOnly(l.invalidTokens));
        if (l.agreement)
            w.key("agreement").value(*l.agreement);
        if (!l.labelShares.empty()) {
            w.key("label_shares").beginObject();
            for (const auto &[label, shares] : l.labelShares)
                w.key(label).array(shares);
            w.endObject();
        }
        // The analyses over tokens (analyses.md), after every older key.
        const TokenLocality &loc = l.locality;
        w.key("locality").beginObject();
        w.key("first").value(loc.first);
        if (loc.hasAny)
            w.key("any").value(loc.any);
        w.key("first_uniform").value(loc.firstUniform);
        if (loc.hasAny)
            w.key("any_uniform").value(loc.anyUniform);
        w.key("first_load_aware").value(loc.firstLoadAware);
        if (loc.hasAny)
            w.key("any_load_aware").value(loc.anyLoadAware);
        w.key("pairs").value(loc.pairs);
        w.endObject();
        if (l.vocabulary) {
            w.key("vocabulary_specialisation").beginObject();
            w.key("top1").value(l.vocabulary->top1.layer);
            w.key("topk").value(l.vocabulary->topK.layer);
            w.key("ids").value(l.vocabulary->ids);
            w.endObject();
        }
        w.endObject();
    }
    w.endArray();
    w.endObject();
    return w.text() + "\n";
}

namespace {
std::string fixed(double v, int decimals)
{
    if (v != v)
        return "-";
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
    return buf;
}
std::string optionalFixed(const std::optional<double> &v, int decimals)
{
    return v ? fixed(*v, decimals) : std::string("-");
}
std::string idList(const std::vector<int> &ids)
{
    std::string s;
    for (int id : ids)
        s += (s.empty() ? "" : ",") + std::to_string(id);
    return s.empty() ? "-" : s;
}
} // namespace

std::string reportText(const DumpReport &report)
{
    std::string out = report.file + ": T=" + std::to_string(report.tokens) + " E=" +
                      std::to_string(report.numExperts) + " k=" + std::to_string(report.topK) +
                      " CF=" + fixed(report.capacityFactor, 2) + "\n";
    char line[512];
    std::snprintf(line, sizeof line, "%-4s %-12s %7s %7s %7s %8s %8s %8s %8s %7s  %-16s %s\n", "pos", "layer",
                  "CV", "MaxVio", "entropy", "lb_loss", "z_loss", "dropped", "invalid", "agree", "hot", "cold");
    out += line;
    for (const LayerReport &l : report.layers) {
        const std::string dropped = l.countsOnly ? "-" : fixed(l.drops.droppedFraction, 4);
        const std::string invalid = l.countsOnly ? "-" : std::to_string(l.invalidTokens);
        std::snprintf(line, sizeof line, "%-4zu %-12s %7s %7s %7s %8s %8s %8s %8s %7s  %-16s %s\n",
                      l.position, l.name.c_str(), fixed(l.load.cv, 3).c_str(), fixed(l.load.maxVio, 3).c_str(),
                      fixed(l.load.entropy, 3).c_str(), optionalFixed(l.lbLoss, 4).c_str(),
                      optionalFixed(l.zLoss, 3).c_str(), dropped.c_str(), invalid.c_str(), optionalFixed(l.agreement, 4).c_str(),
                      idList(l.load.hot).c_str(), idList(l.load.cold).c_str());
        out += line;
    }
    return out;
}

} // namespace moescope::cli
