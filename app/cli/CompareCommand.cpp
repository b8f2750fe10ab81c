// `compare`: checkpoints of one run side by side (analyses.md): router saturation,
// load drift, expert identity and, with three or more, the last fluctuation.
#include "analysis/CheckpointComparison.h"
#include "cli/Arguments.h"
#include "cli/Commands.h"
#include "cli/JsonWriter.h"
#include "cli/TerminalProgress.h"
#include "io/OpenDump.h"

#include <cstdio>
#include <filesystem>
#include <iostream>

namespace moescope::cli {

namespace {

bool sameFile(const std::string &a, const std::string &b)
{
    std::error_code ec;
    return a == b || std::filesystem::equivalent(a, b, ec);
}

std::string compareJson(const CheckpointComparison &c)
{
    JsonWriter w;
    w.beginObject();
    w.key("reference").value(c.files[c.reference]);
    w.key("files").array(c.files);
    w.key("steps").beginArray();
    for (const auto &step : c.steps)
        w.value(step);
    w.endArray();
    w.key("layers").beginArray();
    for (const CheckpointLayer &layer : c.layers) {
        w.beginObject();
        w.key("name").value(layer.name);
        w.key("checkpoints").beginArray();
        for (std::size_t i = 0; i < c.files.size(); ++i) {
            if (i == c.reference)
                continue;
            const CheckpointFigures &f = layer.figures.checkpoints[i];
            w.beginObject();
            w.key("file").value(c.files[i]);
            w.key("saturation").value(f.saturation);
            w.key("saturation_top1").value(f.saturationTop1);
            w.key("load_drift").value(f.loadDrift);
            w.key("expert_jaccard").array(f.expertJaccard);
            w.key("mean_jaccard").value(f.meanJaccard);
            w.endObject();
        }
        w.endArray();
        if (!layer.figures.lastFluctuation.empty()) {
            w.key("last_fluctuation").beginArray();
            for (std::size_t i = 0; i < c.files.size(); ++i)
                if (i != c.reference)
                    w.value(layer.figures.lastFluctuation[i]);
            w.endArray();
        }
        w.endObject();
    }
    w.endArray();
    w.endObject();
    return w.text() + "\n";
}

std::string fixed(double v)
{
    if (v != v)
        return "-";
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.3f", v);
    return buf;
}

std::string compareText(const CheckpointComparison &c)
{
    std::string out = "reference: " + c.files[c.reference] + "  T=" + std::to_string(c.tokens) +
                      " E=" + std::to_string(c.numExperts) + " k=" + std::to_string(c.topK) + "\n";
    char line[1024];
    std::snprintf(line, sizeof line, "%-8s %-10s %10s %10s %10s %10s %10s  %s\n", "layer", "step", "saturation",
                  "sat_top1", "drift", "jaccard", "last_fluct", "file");
    out += line;
    for (const CheckpointLayer &layer : c.layers)
        for (std::size_t p = 0; p < c.order.size(); ++p) {
            const std::size_t i = c.order[p];
            if (i == c.reference)
                continue;
            const CheckpointFigures &f = layer.figures.checkpoints[i];
            const std::string step = c.steps[i] ? std::to_string(*c.steps[i]) : "-";
            const std::string lf = layer.figures.lastFluctuation.empty() ? "-" : fixed(layer.figures.lastFluctuation[i]);
            std::snprintf(line, sizeof line, "%-8s %-10s %10s %10s %10s %10s %10s  %s\n", layer.name.c_str(),
                          step.c_str(), fixed(f.saturation).c_str(), fixed(f.saturationTop1).c_str(),
                          fixed(f.loadDrift).c_str(), fixed(f.meanJaccard).c_str(), lf.c_str(), c.files[i].c_str());
            out += line;
        }
    return out;
}

} // namespace

int compareCommand(const Words &words)
{
    const Arguments args(words, {"json"}, {"reference"});
    std::vector<std::string> files = args.positional();
    const auto referenceFile = args.option("reference");
    std::optional<std::size_t> reference;
    if (referenceFile) {
        for (std::size_t i = 0; i < files.size() && !reference; ++i)
            if (sameFile(files[i], *referenceFile))
                reference = i;
        if (!reference) { // a reference not among the files joins them
            files.push_back(*referenceFile);
            reference = files.size() - 1;
        }
    }
    if (files.size() < 2)
        throw ArgumentError("compare needs at least two dumps (A.h5 B.h5 [C.h5 ...])");

    std::vector<std::shared_ptr<const RoutingDump>> opened;
    std::vector<const RoutingDump *> dumps;
    for (const std::string &file : files) {
        opened.push_back(openDump(file));
        dumps.push_back(opened.back().get());
    }
    CompareRequest request;
    request.reference = reference;
    TerminalProgress progress("compare");
    const CheckpointComparison comparison = compareCheckpoints(dumps, request, progress.progress());
    for (const std::string &warning : comparison.warnings)
        std::cerr << "warning: " << warning << "\n";
    std::cout << (args.flag("json") ? compareJson(comparison) : compareText(comparison));
    return 0;
}

} // namespace moescope::cli
