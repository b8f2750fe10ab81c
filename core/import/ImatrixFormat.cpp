// `moescope import --format imatrix`: llama.cpp's importance matrix (GGUF) as a
// load-only dump: each MoE layer's per-expert token counts, no tokens.
#include "import/ImatrixCounts.h"
#include "import/ImportFormats.h"
#include "io/DumpError.h"

#include <algorithm>
#include <cmath>
#include <filesystem>

namespace moescope::import {

namespace {

std::string layerName(int layer)
{
    const std::string s = std::to_string(layer);
    return s.size() < 2 ? "0" + s : s;
}

std::string joined(const std::vector<std::string> &parts)
{
    std::string s;
    for (const std::string &p : parts)
        s += (s.empty() ? "" : ", ") + p;
    return s;
}

ImportedRecord readImatrix(const std::string &source, const ImportOptions &options, const Progress &progress)
{
    const ImatrixCounts counts = readImatrixCounts(source);
    progress.checkCancelled();
    const int E = counts.numExperts;
    if (options.numExperts && *options.numExperts != E)
        throw DumpError(source, "",
                        "holds counts for " + std::to_string(E) + " experts, --num-experts says " +
                            std::to_string(*options.numExperts));
    ImportedRecord rec;
    rec.numExperts = E;
    double assignments = 0, fewest = -1; // the largest and smallest layer totals (tokens x k)
    for (const auto &[layer, c] : counts.layers) {
        double sum = 0;
        for (double v : c)
            sum += v;
        assignments = std::max(assignments, sum);
        fewest = fewest < 0 ? sum : std::min(fewest, sum);
    }
    // Every MoE layer sees every token, so the totals agree; where they do not, the
    // shares still hold but the loads of the smaller layers read low against T.
    if (fewest < 0.99 * assignments)
        rec.warnings.push_back(source + ": the layers' expert counts add up to different totals (" +
                               std::to_string(std::llround(fewest)) + " to " +
                               std::to_string(std::llround(assignments)) + "); T is taken from the largest");

    // k is not in the imatrix; the counts over the tokens it was collected on tell it.
    int k = 0;
    if (const auto given = options.integer("top-k", 1, E)) {
        k = int(*given);
    } else {
        const double tokens = double(counts.chunkCount) * double(counts.chunkSize);
        const double ratio = tokens > 0 ? assignments / tokens : 0;
        const long rounded = std::lround(ratio);
        if (rounded >= 1 && rounded <= E && std::abs(ratio - double(rounded)) <= 0.02 * double(rounded)) {
            k = int(rounded);
            rec.warnings.push_back(
                source + ": top-k is not recorded; took " + std::to_string(k) +
                " (expert assignments / (chunk_count x chunk_size)); give --top-k if it is another");
        } else {
            k = 1;
            rec.warnings.push_back(source +
                                   ": top-k is not recorded and the counts do not tell it; took 1, so "
                                   "the token count is the number of assignments; give --top-k");
        }
    }
    rec.topK = k;
    rec.numTokens = std::max<std::int64_t>(1, std::llround(assignments / k));

    for (const auto &[layer, c] : counts.layers) {
        ImportedLayer l;
        l.name = layerName(layer);
        l.index = layer;
        l.counts = c;
        rec.layers.push_back(std::move(l));
    }
    rec.stringAttributes["source"] = "llama.cpp imatrix";
    rec.stringAttributes["source_layout"] =
        "gguf v" + std::to_string(counts.ggufVersion) + ", blk.N." + counts.tensorKind + ".weight.counts";
    if (!counts.datasets.empty())
        rec.stringAttributes["imatrix_datasets"] = joined(counts.datasets);
    if (counts.chunkCount > 0)
        rec.numberAttributes["imatrix_chunk_count"] = double(counts.chunkCount);
    if (counts.chunkSize > 0)
        rec.numberAttributes["imatrix_chunk_size"] = double(counts.chunkSize);
    return rec;
}

} // namespace

ImportFormat imatrixFormat()
{
    ImportFormat f;
    f.name = "imatrix";
    f.description = "llama.cpp importance matrix (GGUF from llama-imatrix): per-expert counts per layer";
    f.options = {"top-k"};
    f.detect = [](const std::string &source) {
        std::error_code error;
        return std::filesystem::is_regular_file(source, error) && looksLikeGguf(source);
    };
    f.read = readImatrix;
    return f;
}

} // namespace moescope::import
