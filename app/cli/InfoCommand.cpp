#include "cli/Arguments.h"
#include "cli/Commands.h"
#include "cli/JsonWriter.h"
#include "io/OpenDump.h"
#include "io/RoutingDump.h"

#include <iostream>
#include <set>

namespace moescope::cli {

namespace {
std::set<std::string> distinctLabels(const DumpInfo &info)
{
    return {info.sequenceLabels.begin(), info.sequenceLabels.end()};
}

std::string infoJson(const DumpInfo &info)
{
    JsonWriter w;
    w.beginObject();
    w.key("file").value(info.path);
    w.key("format_version").value(info.formatVersion);
    w.key("model").value(info.model);
    w.key("checkpoint").value(info.checkpoint);
    w.key("checkpoint_step").value(info.checkpointStep);
    w.key("tokens").value(info.numTokens);
    w.key("num_experts").value(info.numExperts);
    w.key("top_k").value(info.topK);
    w.key("scoring").value(scoringName(info.scoring));
    w.key("normalize_topk").value(info.normalizeTopK);
    w.key("n_group").value(info.numGroups);
    w.key("topk_group").value(info.topKGroups);
    w.key("routed_scaling_factor").value(info.routedScalingFactor);
    w.key("capacity_factor").value(info.capacityFactor);
    w.key("sequences").value(info.numSequences());
    w.key("labels").beginArray();
    for (const auto &label : distinctLabels(info))
        w.value(label);
    w.endArray();
    w.key("vocab_size").value(info.vocabSize);
    w.key("training").value(info.hasTraining);
    w.key("layers").beginArray();
    for (std::size_t l = 0; l < info.layers.size(); ++l) {
        const LayerInfo &li = info.layers[l];
        w.beginObject();
        w.key("position").value(l);
        w.key("name").value(li.name);
        w.key("index").value(li.index);
        w.key("logits").value(li.hasLogits ? std::optional<std::string>(logitsTypeName(li.logitsType)) : std::nullopt);
        w.key("logits_are_probabilities").value(li.logitsAreProbabilities);
        w.key("logits_storage").value(li.hasLogits ? std::optional<std::string>(li.logitsStorage) : std::nullopt);
        w.key("topk_ids").value(li.hasTopkIds);
        w.key("topk_weights").value(li.hasTopkWeights);
        w.key("expert_bias").value(li.hasExpertBias);
        w.key("counts").value(li.hasCounts);
        w.endObject();
    }
    w.endArray();
    w.key("warnings").array(info.warnings);
    w.endObject();
    return w.text() + "\n";
}

std::string infoText(const DumpInfo &info)
{
    std::string out = info.path + "\n";
    out += "  model:       " + (info.model.empty() ? "-" : info.model) + "\n";
    out += "  checkpoint:  " + (info.checkpoint.empty() ? "-" : info.checkpoint) +
           (info.checkpointStep ? " (step " + std::to_string(*info.checkpointStep) + ")" : "") + "\n";
    out += "  tokens:      " + std::to_string(info.numTokens) + " in " + std::to_string(info.numSequences()) +
           " sequence(s)\n";
    std::string labels;
    for (const auto &label : distinctLabels(info))
        labels += (labels.empty() ? "" : ", ") + label;
    out += "  labels:      " + (labels.empty() ? "-" : labels) + "\n";
    out += "  vocab:       " + (info.vocabSize ? std::to_string(info.vocabSize) + " entries" : "none") + "\n";
    out += "  experts:     E=" + std::to_string(info.numExperts) + ", k=" + std::to_string(info.topK) +
           ", scoring " + scoringName(info.scoring) + (info.normalizeTopK ? ", normalised" : ", not normalised");
    if (info.numGroups > 1)
        out += ", groups " + std::to_string(info.topKGroups) + " of " + std::to_string(info.numGroups);
    out += "\n  training:    " + std::string(info.hasTraining ? "yes" : "no") + "\n";
    out += "  layers:      " + std::to_string(info.layers.size()) + "\n";
    for (std::size_t l = 0; l < info.layers.size(); ++l) {
        const LayerInfo &li = info.layers[l];
        out += "    " + std::to_string(l) + ": " + li.name +
               (li.index ? " (index " + std::to_string(*li.index) + ")" : "") + ":";
        if (li.hasLogits)
            out += std::string(" logits ") + logitsTypeName(li.logitsType) + (li.logitsAreProbabilities ? " (probabilities)" : "") + " [" +
                   li.logitsStorage + "]";
        if (li.hasTopkIds)
            out += " topk_ids";
        if (li.hasTopkWeights)
            out += " topk_weights";
        if (li.hasExpertBias)
            out += " expert_bias";
        if (li.hasCounts)
            out += li.loadOnly() ? " counts (load-only)" : " counts";
        out += "\n";
    }
    return out;
}
} // namespace

int infoCommand(const Words &words)
{
    const Arguments args(words, {"json"}, {});
    const auto opened = openDump(args.file());
    const RoutingDump &dump = *opened;
    for (const auto &w : dump.info().warnings)
        std::cerr << "warning: " << w << "\n";
    std::cout << (args.flag("json") ? infoJson(dump.info()) : infoText(dump.info()));
    return 0;
}

} // namespace moescope::cli
