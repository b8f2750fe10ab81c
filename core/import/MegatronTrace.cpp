// Megatron-Core router trace (megatron/core/transformer/moe/router_trace.py): a folder
// of router_trace_rank{R}.jsonl files, one record per router call, with optional
// bfloat16 logits in logits_rank{R}.bin. Each (block, mtp_idx, layer) becomes a dump
// layer, each (step, rank, call) a sequence; see docs/importers.md.
#include "import/ImportFormats.h"
#include "import/JsonLine.h"
#include "import/TextLines.h"
#include "io/DumpError.h"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <exception>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <regex>
#include <set>
#include <thread>
#include <tuple>

namespace moescope::import {

namespace fs = std::filesystem;

namespace {

struct TraceFile {
    std::string path;
    long long rank = 0; // from the file name
};

struct Record {
    std::size_t file = 0;
    long long line = 0;
    std::int64_t step = -1, rank = -1, layer = -1, mtpIdx = -1, numTokens = -1, topk = -1;
    std::string block;
    std::int64_t logitOffset = -1, logitBytes = -1;
    std::vector<std::int64_t> logitShape;
    std::int64_t rows = 0, width = -1;
    std::vector<std::int32_t> ids;
};

using LayerKey = std::tuple<int, std::int64_t, std::int64_t>; // (0 decoder / 1 mtp, mtp_idx, layer)
using SequenceKey = std::tuple<std::int64_t, std::int64_t, int>; // (step, rank, call)

const std::regex &traceName()
{
    static const std::regex name(R"(router_trace_rank(\d+)\.jsonl)");
    return name;
}

std::vector<TraceFile> traceFiles(const std::string &source)
{
    std::vector<TraceFile> files;
    std::smatch m;
    auto add = [&](const fs::path &p) {
        const std::string name = p.filename().string();
        if (std::regex_match(name, m, traceName()))
            files.push_back({p.string(), std::stoll(m[1].str())});
    };
    std::error_code error;
    if (fs::is_directory(source, error)) {
        for (const auto &entry : fs::directory_iterator(source, error))
            add(entry.path());
    } else {
        add(source);
    }
    std::sort(files.begin(), files.end(), [](const TraceFile &a, const TraceFile &b) { return a.rank < b.rank; });
    return files;
}

std::string layerName(const LayerKey &k)
{
    const auto &[block, mtp, layer] = k;
    return block == 0 ? "decoder." + std::to_string(layer) : "mtp." + std::to_string(mtp) + "." + std::to_string(layer);
}

// One line into a Record; JsonLineError or a DumpError-ready problem text.
Record parseRecord(std::string_view text)
{
    Record r;
    JsonLine j(text);
    j.beginObject();
    std::string_view key;
    bool haveIndices = false;
    while (j.nextKey(key)) {
        if (key == "step") r.step = j.integer();
        else if (key == "layer") r.layer = j.integer();
        else if (key == "rank") r.rank = j.integer();
        else if (key == "num_tokens") r.numTokens = j.integer();
        else if (key == "topk") r.topk = j.integer();
        else if (key == "mtp_idx") r.mtpIdx = j.integer();
        else if (key == "block") r.block = std::string(j.string());
        else if (key == "logit_offset") r.logitOffset = j.integer();
        else if (key == "logit_bytes") r.logitBytes = j.integer();
        else if (key == "logit_shape") j.integers(r.logitShape);
        else if (key == "top_indices") {
            r.ids.reserve(std::size_t(std::max<std::int64_t>(0, r.numTokens) * std::max<std::int64_t>(1, r.topk)));
            r.width = -1; // the rows' own width, checked against topk below
            r.rows = j.integerRows(r.ids, r.width);
            haveIndices = true;
        } else j.skipValue();
    }
    j.atEnd();
    if (!haveIndices)
        throw JsonLineError("has no 'top_indices'");
    for (const auto &[value, name] : {std::pair{r.step, "step"}, {r.layer, "layer"}, {r.numTokens, "num_tokens"},
                                      {r.topk, "topk"}})
        if (value < 0)
            throw JsonLineError(std::string("has no '") + name + "' (or a negative one)");
    if (r.block != "decoder" && r.block != "mtp")
        throw JsonLineError("block is '" + r.block + "', expected 'decoder' or 'mtp'");
    if (r.block == "mtp" && r.mtpIdx < 0)
        throw JsonLineError("an mtp record without 'mtp_idx'");
    if (r.rows != r.numTokens)
        throw JsonLineError("top_indices has " + std::to_string(r.rows) + " rows, num_tokens says " +
                            std::to_string(r.numTokens));
    if (r.rows > 0 && r.width != r.topk)
        throw JsonLineError("top_indices rows have " + std::to_string(r.width) + " ids, topk says " +
                            std::to_string(r.topk));
    return r;
}

void parseFile(const TraceFile &file, std::size_t index, std::optional<long long> step, std::vector<Record> &out)
{
    const std::string text = readWholeFile(file.path);
    forEachLine(text, [&](std::string_view line, long long number) {
        Record r;
        try {
            r = parseRecord(line);
        } catch (const JsonLineError &e) {
            throw DumpError(file.path, "line " + std::to_string(number), e.what());
        }
        if (step && r.step != *step)
            return;
        r.file = index;
        r.line = number;
        if (r.rank < 0)
            r.rank = file.rank;
        out.push_back(std::move(r));
    });
}

// Every file parsed, on as many threads as there are cores; errors in file order.
std::vector<Record> parseAll(const std::vector<TraceFile> &files, std::optional<long long> step,
                             const Progress &progress)
{
    std::vector<std::vector<Record>> perFile(files.size());
    std::vector<std::exception_ptr> errors(files.size());
    std::atomic<std::size_t> next{0}, done{0};
    auto work = [&] {
        for (std::size_t i; (i = next++) < files.size();) {
            try {
                parseFile(files[i], i, step, perFile[i]);
            } catch (...) {
                errors[i] = std::current_exception();
            }
            ++done;
        }
    };
    const std::size_t threads = std::min<std::size_t>(files.size(), std::max(1u, std::thread::hardware_concurrency()));
    std::vector<std::thread> pool;
    for (std::size_t t = 1; t < threads; ++t)
        pool.emplace_back(work);
    work();
    for (std::thread &t : pool)
        t.join();
    progress.report(1.0);
    for (const std::exception_ptr &e : errors)
        if (e)
            std::rethrow_exception(e);
    std::vector<Record> all;
    for (auto &records : perFile)
        for (Record &r : records)
            all.push_back(std::move(r));
    return all;
}

struct Assembly {
    const std::vector<TraceFile> &files;
    std::vector<Record> &records;
    [[noreturn]] void fail(const Record &r, const std::string &problem) const
    {
        throw DumpError(files[r.file].path, "line " + std::to_string(r.line), problem);
    }
    std::string where(const Record &r) const
    {
        return fs::path(files[r.file].path).filename().string() + " line " + std::to_string(r.line);
    }
};

// E from the logits' shape, else --num-experts, else 1 + the largest id (a warning).
int expertCount(const Assembly &a, const ImportOptions &options, ImportedRecord &out)
{
    const Record *first = nullptr;
    for (const Record &r : a.records) {
        if (r.logitOffset < 0)
            continue;
        if (r.logitShape.size() != 2 || r.logitShape[0] != r.numTokens || r.logitShape[1] < 1)
            a.fail(r, "logit_shape must be [num_tokens, num_experts] = [" + std::to_string(r.numTokens) + ", E]");
        if (!first)
            first = &r;
        else if (r.logitShape[1] != first->logitShape[1])
            a.fail(r, "logit_shape says " + std::to_string(r.logitShape[1]) + " experts, but rank " +
                          std::to_string(first->rank) + " (" + a.where(*first) + ") says " +
                          std::to_string(first->logitShape[1]) + ": ranks disagree on E");
    }
    if (first && options.numExperts && *options.numExperts != first->logitShape[1])
        a.fail(*first, "logit_shape says " + std::to_string(first->logitShape[1]) + " experts, --num-experts says " +
                           std::to_string(*options.numExperts));
    if (first)
        return int(first->logitShape[1]);
    if (options.numExperts)
        return *options.numExperts;
    std::int32_t largest = 0;
    for (const Record &r : a.records)
        for (std::int32_t id : r.ids)
            largest = std::max(largest, id);
    out.warnings.push_back("the trace does not record the number of experts; taking E = " +
                           std::to_string(largest + 1) + " (1 + the largest id seen); give --num-experts E if it is more");
    return largest + 1;
}

void checkIds(const Assembly &a, int E)
{
    for (const Record &r : a.records)
        for (std::size_t i = 0; i < r.ids.size(); ++i)
            if (r.ids[i] < 0 || r.ids[i] >= E)
                a.fail(r, "top_indices token " + std::to_string(i / std::size_t(r.topk)) + " slot " +
                              std::to_string(i % std::size_t(r.topk)) + " names expert " + std::to_string(r.ids[i]) +
                              ", outside [0, " + std::to_string(E) + ")");
}

// The record's bfloat16 logits as float32 (exact: a bfloat16 is the top half of a float32).
void readLogits(const Assembly &a, const Record &r, int E, const std::string &folder, float *out)
{
    const std::string path = (fs::path(folder) / ("logits_rank" + std::to_string(a.files[r.file].rank) + ".bin")).string();
    const std::int64_t expected = r.numTokens * E * 2;
    if (r.logitBytes != expected)
        a.fail(r, "logit_bytes is " + std::to_string(r.logitBytes) + ", [num_tokens, E] bfloat16 logits take " +
                      std::to_string(expected));
    std::error_code error;
    const auto size = fs::file_size(path, error);
    if (error)
        a.fail(r, "has logits but " + path + " cannot be read (" + error.message() + ")");
    if (std::uint64_t(r.logitOffset) + std::uint64_t(r.logitBytes) > size)
        a.fail(r, "logit_offset " + std::to_string(r.logitOffset) + " + logit_bytes " + std::to_string(r.logitBytes) +
                      " runs past the end of " + path + " (" + std::to_string(size) + " bytes)");
    std::ifstream in(path, std::ios::binary);
    std::vector<std::uint16_t> raw(std::size_t(r.numTokens) * std::size_t(E));
    in.seekg(r.logitOffset);
    if (!in.read(reinterpret_cast<char *>(raw.data()), std::streamsize(raw.size() * 2)))
        a.fail(r, "the logits at logit_offset " + std::to_string(r.logitOffset) + " cannot be read from " + path);
    for (std::size_t i = 0; i < raw.size(); ++i) { // little-endian bytes, as torch wrote them
        const auto *b = reinterpret_cast<const unsigned char *>(&raw[i]);
        const std::uint32_t bits = std::uint32_t(b[0] | (b[1] << 8)) << 16;
        std::memcpy(out + i, &bits, 4);
    }
}

// Megatron records training choices in id order; with logits they are put best first.
void orderBestFirst(std::int32_t *ids, const float *logits, int k)
{
    std::stable_sort(ids, ids + k, [&](std::int32_t x, std::int32_t y) { return logits[x] > logits[y]; });
}

ImportedRecord assemble(const std::string &source, const std::vector<TraceFile> &files, std::vector<Record> &records,
                        const ImportOptions &options)
{
    ImportedRecord out;
    const Assembly a{files, records};
    // Calls of one (rank file, layer, step) in file order: the microbatches.
    std::map<std::tuple<std::size_t, LayerKey, std::int64_t>, int> calls;
    std::map<LayerKey, std::map<SequenceKey, std::size_t>> layers; // -> record index
    std::map<SequenceKey, std::size_t> sequences;                   // -> first record seen
    for (std::size_t i = 0; i < records.size(); ++i) {
        const Record &r = records[i];
        const LayerKey lk{r.block == "mtp" ? 1 : 0, r.block == "mtp" ? r.mtpIdx : -1, r.layer};
        const SequenceKey sk{r.step, r.rank, calls[{r.file, lk, r.step}]++};
        layers[lk][sk] = i;
        const auto [it, added] = sequences.emplace(sk, i);
        if (!added && records[it->second].numTokens != r.numTokens)
            a.fail(r, "num_tokens is " + std::to_string(r.numTokens) + " where layer " +
                          layerName({records[it->second].block == "mtp", records[it->second].mtpIdx,
                                     records[it->second].layer}) +
                          " of the same call has " + std::to_string(records[it->second].numTokens) + " (" +
                          a.where(records[it->second]) + ")");
    }
    // One k for the whole dump; a record that breaks its layer's k is named.
    for (const auto &[lk, bySequence] : layers) {
        const Record &first = records[bySequence.begin()->second];
        for (const auto &[sk, i] : bySequence)
            if (records[i].topk != first.topk)
                a.fail(records[i], "topk is " + std::to_string(records[i].topk) + " where the other records of layer " +
                                       layerName(lk) + " have " + std::to_string(first.topk) + " (" + a.where(first) + ")");
        if (first.topk != records[layers.begin()->second.begin()->second].topk)
            a.fail(first, "layer " + layerName(lk) + " chooses top-" + std::to_string(first.topk) + " where layer " +
                              layerName(layers.begin()->first) + " chooses top-" +
                              std::to_string(records[layers.begin()->second.begin()->second].topk) +
                              ": a dump holds one k");
        for (const auto &[sk, i] : sequences)
            if (!bySequence.count(sk))
                a.fail(records[i], "layer " + layerName(lk) + " has no record of step " + std::to_string(std::get<0>(sk)) +
                                       " rank " + std::to_string(std::get<1>(sk)) + " call " +
                                       std::to_string(std::get<2>(sk)) +
                                       " (each router call needs every layer; ranks of a pipeline-parallel run hold "
                                       "different layers)");
    }
    const int k = int(records[layers.begin()->second.begin()->second].topk);
    const int E = expertCount(a, options, out);
    if (E < 1 || E > 4096)
        throw DumpError(source, "", "the trace has " + std::to_string(E) + " experts; a dump holds 1 to 4096");
    if (k < 1 || k > E)
        throw DumpError(source, "", "the trace chooses top-" + std::to_string(k) + " of " + std::to_string(E) +
                                        " experts; k must be 1 to E");
    checkIds(a, E);

    out.numExperts = E;
    out.topK = k;
    out.sequenceOffsets.push_back(0);
    std::set<std::int64_t> steps;
    for (const auto &[sk, i] : sequences) {
        out.sequenceOffsets.push_back(out.sequenceOffsets.back() + records[i].numTokens);
        out.sequenceLabels.push_back("step " + std::to_string(std::get<0>(sk)) + " rank " + std::to_string(std::get<1>(sk)));
        steps.insert(std::get<0>(sk));
    }
    out.numTokens = out.sequenceOffsets.back();
    const std::string folder = fs::is_directory(source) ? source : fs::path(source).parent_path().string();
    for (const auto &[lk, bySequence] : layers) {
        ImportedLayer layer;
        layer.name = layerName(lk);
        layer.choices.reserve(std::size_t(out.numTokens) * std::size_t(k));
        bool logits = true;
        for (const auto &[sk, i] : bySequence)
            logits = logits && records[i].logitOffset >= 0;
        if (logits)
            layer.logits.resize(std::size_t(out.numTokens) * std::size_t(E));
        else if (std::any_of(bySequence.begin(), bySequence.end(), [&](const auto &s) { return records[s.second].logitOffset >= 0; }))
            out.warnings.push_back("layer " + layer.name + ": only some records have logits; its logits are left out");
        for (const auto &[sk, i] : bySequence) {
            Record &r = records[i];
            const std::size_t at = layer.choices.size() / std::size_t(k);
            layer.choices.insert(layer.choices.end(), r.ids.begin(), r.ids.end());
            if (logits) {
                float *z = layer.logits.data() + at * std::size_t(E);
                readLogits(a, r, E, folder, z);
                for (std::int64_t t = 0; t < r.numTokens; ++t)
                    orderBestFirst(layer.choices.data() + (at + std::size_t(t)) * std::size_t(k), z + t * E, k);
            }
            std::vector<std::int32_t>().swap(r.ids); // free as we go
        }
        out.layers.push_back(std::move(layer));
    }
    // Decoder layers keep their number as `index`; MTP layers follow them in order.
    for (std::size_t i = 0; i < out.layers.size(); ++i)
        out.layers[i].index = std::int64_t(i);
    out.stringAttributes["source"] = "megatron-core router trace";
    out.stringAttributes["source_layout"] = "router_trace_rank{R}.jsonl (top_indices), logits_rank{R}.bin (bfloat16)";
    if (steps.size() == 1)
        out.numberAttributes["checkpoint_step"] = double(*steps.begin());
    return out;
}

bool looksLikeTrace(const std::string &source)
{
    return !traceFiles(source).empty();
}

ImportedRecord readTrace(const std::string &source, const ImportOptions &options, const Progress &progress)
{
    const std::vector<TraceFile> files = traceFiles(source);
    if (files.empty())
        throw DumpError(source, "", "holds no router_trace_rank{R}.jsonl files (a Megatron-Core router trace folder)");
    const std::optional<long long> step = options.integer("step", 0, (1LL << 62));
    std::vector<Record> records = parseAll(files, step, progress.part(0, 0.8));
    if (records.empty())
        throw DumpError(source, "", step ? "has no records of step " + std::to_string(*step) : "holds no records");
    ImportedRecord out = assemble(source, files, records, options);
    progress.report(1.0);
    return out;
}

} // namespace

ImportFormat megatronTraceFormat()
{
    ImportFormat f;
    f.name = "megatron";
    f.description = "Megatron-Core router trace (router_trace_rank{R}.jsonl)";
    f.options = {"step"};
    f.detect = looksLikeTrace;
    f.read = readTrace;
    return f;
}

} // namespace moescope::import
