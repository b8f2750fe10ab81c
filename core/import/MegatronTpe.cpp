// Megatron tokens-per-expert log (megatron/training/activation_logging.py):
// {save}/tokens_per_expert/rank{R}.jsonl, one line per (iter, layer) with the tokens
// each LOCAL expert of the rank received, per microbatch. Local ids become global
// ones by the rank's expert-parallel slice (ep_rank = R mod EP); the counts are summed
// over microbatches and ranks into /training (a run log) and, over all iterations,
// into each layer's counts (a load-only dump). See docs/importers.md.
#include "import/ImportFormats.h"
#include "import/JsonLine.h"
#include "import/TextLines.h"
#include "io/DumpError.h"

#include <algorithm>
#include <filesystem>
#include <map>
#include <numeric>
#include <regex>
#include <tuple>

namespace moescope::import {

namespace fs = std::filesystem;

namespace {

struct RankFile {
    std::string path;
    long long rank = 0;
};

using LayerKey = std::tuple<int, std::int64_t, std::int64_t>; // (0 decoder / 1 mtp, mtp_idx, layer)

std::vector<RankFile> rankFiles(const std::string &source)
{
    static const std::regex name(R"(rank(\d{1,18})\.jsonl)"); // 18 digits: std::stoll cannot throw
    std::vector<RankFile> files;
    std::smatch m;
    std::error_code error;
    auto scan = [&](const fs::path &folder) {
        for (const auto &entry : fs::directory_iterator(folder, error)) {
            const std::string base = entry.path().filename().string();
            if (std::regex_match(base, m, name))
                files.push_back({entry.path().string(), std::stoll(m[1].str())});
        }
    };
    if (fs::is_directory(source, error)) {
        scan(source);
        if (files.empty() && fs::is_directory(fs::path(source) / "tokens_per_expert", error))
            scan(fs::path(source) / "tokens_per_expert"); // the --save folder itself
    } else {
        const std::string base = fs::path(source).filename().string();
        if (std::regex_match(base, m, name))
            files.push_back({source, std::stoll(m[1].str())});
    }
    std::sort(files.begin(), files.end(), [](const RankFile &a, const RankFile &b) { return a.rank < b.rank; });
    return files;
}

// Its first line carries "tpe": a tokens-per-expert log, not some other rank{R}.jsonl.
bool looksLikeTpe(const std::string &source)
{
    const auto files = rankFiles(source);
    if (files.empty())
        return false;
    std::FILE *f = std::fopen(files.front().path.c_str(), "rb");
    if (!f)
        return false;
    char head[4096] = {};
    const std::size_t n = std::fread(head, 1, sizeof head - 1, f);
    std::fclose(f);
    const std::string_view text(head, n);
    return text.find("\"tpe\"") != std::string_view::npos && text.find("\"iter\"") != std::string_view::npos;
}

std::string layerName(const LayerKey &k)
{
    const auto &[block, mtp, layer] = k;
    return block == 0 ? "decoder." + std::to_string(layer) : "mtp." + std::to_string(mtp) + "." + std::to_string(layer);
}

struct Line {
    std::int64_t iter = -1, layer = -1, mtpIdx = -1;
    std::string block;
    std::int64_t local = -1; // local experts per microbatch row
    std::vector<std::int64_t> sums; // [local] summed over microbatches
};

Line parseLine(std::string_view text)
{
    Line l;
    JsonLine j(text);
    j.beginObject();
    std::string_view key;
    bool haveTpe = false;
    while (j.nextKey(key)) {
        if (key == "iter") l.iter = j.integer();
        else if (key == "layer") l.layer = j.integer();
        else if (key == "mtp_idx") l.mtpIdx = j.integer();
        else if (key == "block") l.block = std::string(j.string());
        else if (key == "tpe") {
            std::vector<std::int32_t> values;
            const std::int64_t rows = j.integerRows(values, l.local);
            l.sums.assign(std::size_t(std::max<std::int64_t>(0, l.local)), 0);
            for (std::int64_t r = 0; r < rows; ++r)
                for (std::int64_t e = 0; e < l.local; ++e) {
                    const std::int32_t c = values[std::size_t(r * l.local + e)];
                    if (c < 0)
                        throw JsonLineError("tpe microbatch " + std::to_string(r) + " gives local expert " +
                                            std::to_string(e) + " a negative count (" + std::to_string(c) + ")");
                    l.sums[std::size_t(e)] += c;
                }
            if (rows == 0 || l.local <= 0)
                throw JsonLineError("tpe holds no counts");
            haveTpe = true;
        } else j.skipValue();
    }
    j.atEnd();
    if (!haveTpe)
        throw JsonLineError("has no 'tpe'");
    if (l.iter < 0 || l.layer < 0)
        throw JsonLineError("needs a non-negative 'iter' and 'layer'");
    if (l.block != "decoder" && l.block != "mtp")
        throw JsonLineError("block is '" + l.block + "', expected 'decoder' or 'mtp'");
    if (l.block == "mtp" && l.mtpIdx < 0)
        throw JsonLineError("an mtp line without 'mtp_idx'");
    return l;
}

ImportedRecord readTpe(const std::string &source, const ImportOptions &options, const Progress &progress)
{
    const std::vector<RankFile> files = rankFiles(source);
    if (files.empty())
        throw DumpError(source, "", "holds no rank{R}.jsonl files (a Megatron tokens_per_expert folder)");
    const auto epOption = options.integer("ep-size", 1, 1 << 20);
    if (!epOption && files.size() > 1)
        throw ImportUsageError("the log has " + std::to_string(files.size()) +
                               " ranks: give --ep-size EP (the expert-parallel size; rank R holds the experts of "
                               "ep_rank R mod EP)");
    const long long EP = epOption.value_or(1);
    const auto topK = options.integer("top-k", 1, 4096);

    ImportedRecord out;
    std::int64_t local = -1;
    std::string localWhere;
    // iter -> layer -> global counts
    std::map<std::int64_t, std::map<LayerKey, std::vector<std::int64_t>>> byIter;
    std::map<LayerKey, bool> layers;
    for (std::size_t f = 0; f < files.size(); ++f) {
        const RankFile &file = files[f];
        const long long epRank = file.rank % EP;
        const std::string text = readWholeFile(file.path);
        forEachLine(text, [&](std::string_view lineText, long long number) {
            const std::string where = "line " + std::to_string(number);
            Line l;
            try {
                l = parseLine(lineText);
            } catch (const JsonLineError &e) {
                throw DumpError(file.path, where, e.what());
            }
            if (local < 0) {
                local = l.local;
                localWhere = fs::path(file.path).filename().string() + " " + where;
                if (options.numExperts && *options.numExperts != local * EP)
                    throw DumpError(file.path, where, "tpe rows count " + std::to_string(local) + " local experts x EP " +
                                                          std::to_string(EP) + " = " + std::to_string(local * EP) +
                                                          " experts, --num-experts says " +
                                                          std::to_string(*options.numExperts));
            } else if (l.local != local) {
                throw DumpError(file.path, where, "tpe rows count " + std::to_string(l.local) + " local experts where " +
                                                      localWhere + " counts " + std::to_string(local) +
                                                      ": ranks disagree on E");
            }
            const LayerKey key{l.block == "mtp" ? 1 : 0, l.block == "mtp" ? l.mtpIdx : -1, l.layer};
            layers[key] = true;
            auto &counts = byIter[l.iter][key];
            counts.resize(std::size_t(local * EP), 0);
            for (std::int64_t e = 0; e < local; ++e)
                counts[std::size_t(epRank * local + e)] += l.sums[std::size_t(e)];
        });
        progress.report(double(f + 1) / double(files.size()));
    }
    if (byIter.empty())
        throw DumpError(source, "", "holds no tokens-per-expert lines");
    const std::int64_t E = local * EP;
    if (E > 4096)
        throw DumpError(source, "", std::to_string(E) + " experts (" + std::to_string(local) + " local x EP " +
                                        std::to_string(EP) + "); a dump holds at most 4096");
    out.numExperts = int(E);
    out.topK = int(std::min<std::int64_t>(E, topK.value_or(1)));
    if (!topK)
        out.warnings.push_back("the log does not record top-k; taking k = 1 (num_tokens then counts assignments); "
                               "give --top-k K");

    std::vector<LayerKey> order;
    for (const auto &[key, seen] : layers)
        order.push_back(key);
    for (std::size_t i = 0; i < order.size(); ++i) {
        ImportedLayer layer;
        layer.name = layerName(order[i]);
        layer.index = std::int64_t(i);
        layer.counts.assign(std::size_t(E), 0);
        out.layers.push_back(std::move(layer));
        out.training.layerNames.push_back(layerName(order[i]));
    }
    for (const auto &[iter, perLayer] : byIter) {
        out.training.steps.push_back(iter);
        for (std::size_t i = 0; i < order.size(); ++i) {
            const auto it = perLayer.find(order[i]);
            for (std::int64_t e = 0; e < E; ++e) {
                const std::int64_t c = it == perLayer.end() ? 0 : it->second[std::size_t(e)];
                out.training.tokensPerExpert.push_back(c);
                out.layers[i].counts[std::size_t(e)] += double(c);
            }
        }
    }
    // T: the tokens behind the first layer's assignments over the whole log.
    const double assignments = std::accumulate(out.layers[0].counts.begin(), out.layers[0].counts.end(), 0.0);
    out.numTokens = std::int64_t(assignments / out.topK + 0.5);
    if (out.numTokens < 1)
        throw DumpError(source, "", "every count is zero: no tokens to show");
    out.stringAttributes["source"] = "megatron tokens-per-expert log";
    out.stringAttributes["source_layout"] = "tokens_per_expert/rank{R}.jsonl (tpe per local expert, per microbatch)";
    out.numberAttributes["ep_size"] = double(EP);
    return out;
}

} // namespace

ImportFormat megatronTpeFormat()
{
    ImportFormat f;
    f.name = "megatron-tpe";
    f.description = "Megatron tokens-per-expert log (tokens_per_expert/rank{R}.jsonl)";
    f.options = {"ep-size", "top-k"};
    f.detect = looksLikeTpe;
    f.read = readTpe;
    return f;
}

} // namespace moescope::import
