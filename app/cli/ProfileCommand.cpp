#include "io/DumpError.h"
#include "analysis/AnalysisPipeline.h"
#include "io/OpenDump.h"
#include "cli/Arguments.h"
#include "cli/Commands.h"
#include "cli/JsonWriter.h"
#include "stats/ExpertProfile.h"

#include <cstdio>
#include <iostream>

namespace moescope::cli {

int profileCommand(const Words &words)
{
    const Arguments args(words, {"json"}, {"layer", "expert", "top"});
    const std::string file = args.file();
    const auto layer = args.integer("layer");
    const auto expert = args.integer("expert");
    const long long top = args.integer("top").value_or(50);
    if (!layer)
        throw ArgumentError("--layer L is required");
    if (!expert)
        throw ArgumentError("--expert E is required");
    if (top < 0)
        throw ArgumentError("--top must not be negative");

    const auto opened = openDump(file);
    const RoutingDump &dump = *opened;
    const DumpInfo &info = dump.info();
    if (*layer < 0 || *layer >= (long long)info.layers.size())
        throw ArgumentError("--layer must be 0 to " + std::to_string(info.layers.size() - 1) +
                            " (the position in the ordered layer list)");
    if (*expert < 0 || *expert >= info.numExperts)
        throw ArgumentError("--expert must be 0 to " + std::to_string(info.numExperts - 1));
    for (const auto &w : info.warnings)
        std::cerr << "warning: " << w << "\n";
    if (info.layers[std::size_t(*layer)].loadOnly())
        throw DumpError(info.path, "/layers/" + info.layers[std::size_t(*layer)].name,
                        "holds counts only (a load-only layer); a profile needs each token's choices");

    AnalysisRequest request;
    request.onlyLayers = {std::size_t(*layer)};
    request.keepPasses = true;
    request.readTokens = true;
    const AnalysisResult analysis = runAnalysis(dump, request);
    const std::vector<std::string> &vocab = analysis.vocab;
    ExpertProfile profile = expertProfile(analysis.layers.at(0).pass->choices, analysis.tokenIds, int(*expert));
    if ((long long)profile.tokens.size() > top)
        profile.tokens.resize(std::size_t(top));

    if (args.flag("json")) {
        JsonWriter w;
        w.beginObject();
        w.key("layer").value(std::int64_t(*layer));
        w.key("expert").value(std::int64_t(*expert));
        w.key("routed").value(profile.routed);
        w.key("tokens").beginArray();
        for (const TokenShare &t : profile.tokens) {
            w.beginObject();
            w.key("id").value(t.id);
            w.key("text").value(tokenText(vocab, t.id));
            w.key("count").value(t.count);
            w.key("share").value(t.share);
            w.key("lift").value(t.lift);
            w.endObject();
        }
        w.endArray();
        w.endObject();
        std::cout << w.text() << "\n";
        return 0;
    }
    std::printf("layer %lld (%s), expert %lld: %lld tokens routed\n", *layer, info.layers[*layer].name.c_str(),
                *expert, static_cast<long long>(profile.routed));
    std::printf("%8s  %-24s %8s %7s %7s\n", "id", "text", "count", "share", "lift");
    for (const TokenShare &t : profile.tokens)
        std::printf("%8lld  %-24s %8lld %7.3f %7.2f\n", static_cast<long long>(t.id), tokenText(vocab, t.id).c_str(),
                    static_cast<long long>(t.count), t.share, t.lift);
    return 0;
}

} // namespace moescope::cli
