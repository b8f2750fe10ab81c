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
#include <memory>
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
    std::size_t lineBegin = 0, lineSize = 0; // where the line is in its file
    std::size_t indicesAt = 0;               // where top_indices' value starts in the line
    bool indicesLast = false;                // nothing read after it yet (second pass checks)
    std::int64_t step = -1, rank = -1, layer = -1, mtpIdx = -1, numTokens = -1, topk = -1;
    std::string block;
    std::int64_t logitOffset = -1, logitBytes = -1;
    std::vector<std::int64_t> logitShape;
    // Where its [num_tokens, topk] choices go: the layer's position and first row.
    std::size_t layerPos = 0;
    std::int64_t firstRow = 0;
};

using LayerKey = std::tuple<int, std::int64_t, std::int64_t>; // (0 decoder / 1 mtp, mtp_idx, layer)
using SequenceKey = std::tuple<std::int64_t, std::int64_t, int>; // (step, rank, call)

const std::regex &traceName()
{
    static const std::regex name(R"(router_trace_rank(\d{1,18})\.jsonl)"); // 18 digits: std::stoll cannot throw
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

LayerKey layerKeyOf(const Record &r)
{
    return {r.block == "mtp" ? 1 : 0, r.block == "mtp" ? r.mtpIdx : -1, r.layer};
}

// First pass over a line: every member but the ids, which the second pass reads
// straight into the dump's layer arrays once their place is known. Megatron writes
// top_indices last, so the first pass stops there when the line ends as it would.
Record parseHeader(std::string_view text)
{
    Record r;
    JsonLine j(text);
    j.beginObject();
    std::string_view key;
    bool haveIndices = false;
    const std::size_t last = text.find_last_not_of(" \t\r");
    const bool endsWithRows = last != std::string_view::npos && last >= 2 && text.substr(last - 2, 3) == "]]}";
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
            haveIndices = true;
            r.indicesAt = j.offset();
            if (endsWithRows) {
                r.indicesLast = true;
                break;
            }
            j.skipValue();
        } else j.skipValue();
    }
    if (!r.indicesLast)
        j.atEnd();
    if (!haveIndices)
        throw JsonLineError("has no 'top_indices'");
    for (const auto &[value, name] : {std::pair{r.step, "step"}, {r.layer, "layer"}, {r.numTokens, "num_tokens"},
                                      {r.topk, "topk"}})
        if (value < 0)
            throw JsonLineError(std::string("has no '") + name + "' (or a negative one)");
    // A dump holds at most 4096 experts, so k is at most 4096. Every id takes a digit and
    // a separator and every row at least "[]": counts the line cannot hold are refused
    // here, before the second pass allocates num_tokens x topk ids for them.
    if (r.topk > 4096)
        throw JsonLineError("topk is " + std::to_string(r.topk) + "; a dump holds at most 4096 experts");
    const std::int64_t room = std::int64_t(text.size()) / 2;
    if (r.numTokens > room || (r.topk > 0 && r.numTokens > room / r.topk))
        throw JsonLineError("num_tokens " + std::to_string(r.numTokens) + " x topk " + std::to_string(r.topk) +
                            " ids cannot fit in this line of " + std::to_string(text.size()) + " bytes");
    if (r.block != "decoder" && r.block != "mtp")
        throw JsonLineError("block is '" + r.block + "', expected 'decoder' or 'mtp'");
    if (r.block == "mtp" && r.mtpIdx < 0)
        throw JsonLineError("an mtp record without 'mtp_idx'");
    return r;
}

// Runs work(i) for every file on as many threads as there are cores; the first error
// in file order is thrown.
template <typename Work>
void forEachFile(std::size_t files, Work &&work)
{
    std::vector<std::exception_ptr> errors(files);
    std::atomic<std::size_t> next{0};
    auto run = [&] {
        for (std::size_t i; (i = next++) < files;) {
            try {
                work(i);
            } catch (...) {
                errors[i] = std::current_exception();
            }
        }
    };
    const std::size_t threads = std::min<std::size_t>(files, std::max(1u, std::thread::hardware_concurrency()));
    std::vector<std::thread> pool;
    for (std::size_t t = 1; t < threads; ++t)
        pool.emplace_back(run);
    run();
    for (std::thread &t : pool)
        t.join();
    for (const std::exception_ptr &e : errors)
        if (e)
            std::rethrow_exception(e);
}

std::vector<Record> parseHeaders(const std::vector<TraceFile> &files, const std::vector<std::unique_ptr<MappedText>> &texts,
                                 std::optional<long long> step)
{
    std::vector<std::vector<Record>> perFile(files.size());
    forEachFile(files.size(), [&](std::size_t f) {
        const std::string_view text = texts[f]->text();
        forEachLine(text, [&](std::string_view line, long long number) {
            Record r;
            try {
                r = parseHeader(line);
            } catch (const JsonLineError &e) {
                throw DumpError(files[f].path, "line " + std::to_string(number), e.what());
            }
            if (step && r.step != *step)
                return;
            r.file = f;
            r.line = number;
            r.lineBegin = std::size_t(line.data() - text.data());
            r.lineSize = line.size();
            if (r.rank < 0)
                r.rank = files[f].rank;
            perFile[f].push_back(std::move(r));
        });
    });
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

// E from the logits' shape, else --num-experts; nullopt: from the ids (after reading them).
std::optional<int> recordedExperts(const Assembly &a, const ImportOptions &options)
{
    const Record *first = nullptr;
    for (const Record &r : a.records) {
        if (r.logitOffset < 0)
            continue;
        if (r.logitShape.size() != 2 || r.logitShape[0] != r.numTokens || r.logitShape[1] < 1)
            a.fail(r, "logit_shape must be [num_tokens, num_experts] = [" + std::to_string(r.numTokens) + ", E]");
        if (r.logitShape[1] > 4096)
            a.fail(r, "logit_shape says " + std::to_string(r.logitShape[1]) + " experts; a dump holds 1 to 4096");
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
    return options.numExperts;
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
    std::vector<unsigned char> raw(static_cast<std::size_t>(expected));
    in.seekg(r.logitOffset);
    if (!in.read(reinterpret_cast<char *>(raw.data()), std::streamsize(raw.size())))
        a.fail(r, "the logits at logit_offset " + std::to_string(r.logitOffset) + " cannot be read from " + path);
    for (std::size_t i = 0; i < raw.size() / 2; ++i) { // little-endian bytes, as torch wrote them
        const std::uint32_t bits = std::uint32_t(raw[2 * i] | (raw[2 * i + 1] << 8)) << 16;
        std::memcpy(out + i, &bits, 4);
    }
}

// Megatron records training choices in id order; with logits they are put best first.
void orderBestFirst(std::int16_t *ids, const float *logits, int k)
{
    std::stable_sort(ids, ids + k, [&](std::int16_t x, std::int16_t y) { return logits[x] > logits[y]; });
}

struct Layout {
    std::map<LayerKey, std::map<SequenceKey, std::size_t>> layers; // -> record index
    std::map<SequenceKey, std::size_t> sequences;                   // -> first record seen
    int topK = 0;
};

// Which record goes where: layers, sequences, one k; refuses what cannot make a dump.
Layout layOut(const Assembly &a)
{
    Layout o;
    auto &records = a.records;
    // Calls of one (rank file, layer, step) in file order: the microbatches.
    std::map<std::tuple<std::size_t, LayerKey, std::int64_t>, int> calls;
    for (std::size_t i = 0; i < records.size(); ++i) {
        const Record &r = records[i];
        const LayerKey lk = layerKeyOf(r);
        const SequenceKey sk{r.step, r.rank, calls[{r.file, lk, r.step}]++};
        o.layers[lk][sk] = i;
        const auto [it, added] = o.sequences.emplace(sk, i);
        const Record &seen = records[it->second];
        if (!added && seen.numTokens != r.numTokens)
            a.fail(r, "num_tokens is " + std::to_string(r.numTokens) + " where layer " + layerName(layerKeyOf(seen)) +
                          " of the same call has " + std::to_string(seen.numTokens) + " (" + a.where(seen) + ")");
    }
    const Record &firstOfAll = records[o.layers.begin()->second.begin()->second];
    for (const auto &[lk, bySequence] : o.layers) {
        const Record &first = records[bySequence.begin()->second];
        for (const auto &[sk, i] : bySequence)
            if (records[i].topk != first.topk)
                a.fail(records[i], "topk is " + std::to_string(records[i].topk) + " where the other records of layer " +
                                       layerName(lk) + " have " + std::to_string(first.topk) + " (" + a.where(first) + ")");
        if (first.topk != firstOfAll.topk)
            a.fail(first, "layer " + layerName(lk) + " chooses top-" + std::to_string(first.topk) + " where layer " +
                              layerName(o.layers.begin()->first) + " chooses top-" + std::to_string(firstOfAll.topk) +
                              ": a dump holds one k");
        for (const auto &[sk, i] : o.sequences)
            if (!bySequence.count(sk))
                a.fail(records[i], "layer " + layerName(lk) + " has no record of step " + std::to_string(std::get<0>(sk)) +
                                       " rank " + std::to_string(std::get<1>(sk)) + " call " +
                                       std::to_string(std::get<2>(sk)) +
                                       " (each router call needs every layer; the stages of a pipeline-parallel run "
                                       "hold different layers: import one stage's ranks with --ranks)");
    }
    o.topK = int(firstOfAll.topk);
    return o;
}

// What the choice stream needs once the record is made.
struct StreamState {
    std::vector<TraceFile> files;
    std::vector<std::unique_ptr<MappedText>> texts;
    std::vector<Record> records;
    std::vector<const float *> logits; // per layer: its logits in the record, or null
    std::optional<int> experts;        // E when known before the ids are read
    int topK = 0;
};

// Second pass, one thread per file: each record's ids parsed into a buffer the thread
// reuses, checked, put best first where the layer has logits, and written to the dump.
// Holding the whole [T, k] arrays in memory cost more than parsing them.
StreamedFacts streamIds(StreamState &st, ChoiceSink &sink)
{
    std::vector<std::vector<const Record *>> perFile(st.files.size());
    for (const Record &r : st.records)
        perFile[r.file].push_back(&r);
    std::vector<int> largest(st.files.size(), 0);
    const Assembly a{st.files, st.records};
    const int k = st.topK;
    forEachFile(st.files.size(), [&](std::size_t f) {
        std::vector<std::int16_t> ids;
        for (const Record *r : perFile[f]) {
            ids.resize(std::size_t(r->numTokens) * std::size_t(k));
            JsonLine j(st.texts[f]->text().substr(r->lineBegin, r->lineSize));
            try {
                j.seek(r->indicesAt);
                j.integerRowsInto(ids.data(), r->numTokens, k, "top_indices");
                if (r->indicesLast)
                    j.finishObject();
            } catch (const JsonLineError &e) {
                throw DumpError(st.files[f].path, "line " + std::to_string(r->line), e.what());
            }
            std::int16_t lo = 0, hi = 0;
            for (std::int16_t id : ids) { // no branches: vectorises
                lo = std::min(lo, id);
                hi = std::max(hi, id);
            }
            if (lo < 0 || (st.experts && hi >= *st.experts))
                for (std::size_t i = 0; i < ids.size(); ++i)
                    if (ids[i] < 0 || (st.experts && ids[i] >= *st.experts))
                        a.fail(*r, "top_indices token " + std::to_string(i / std::size_t(k)) + " slot " +
                                       std::to_string(i % std::size_t(k)) + " names expert " + std::to_string(ids[i]) +
                                       ", outside [0, " + (st.experts ? std::to_string(*st.experts) : "E") + ")");
            largest[f] = std::max(largest[f], int(hi));
            if (const float *z = st.logits[r->layerPos]) {
                const std::size_t E = std::size_t(*st.experts);
                for (std::int64_t t = 0; t < r->numTokens; ++t)
                    orderBestFirst(ids.data() + std::size_t(t) * std::size_t(k),
                                   z + (std::size_t(r->firstRow) + std::size_t(t)) * E, k);
            }
            sink.write(r->layerPos, r->firstRow, r->numTokens, ids.data());
        }
    });
    StreamedFacts facts;
    if (st.experts) {
        facts.numExperts = *st.experts;
    } else {
        facts.numExperts = *std::max_element(largest.begin(), largest.end()) + 1;
        facts.warnings.push_back("the trace does not record the number of experts; taking E = " +
                                 std::to_string(facts.numExperts) +
                                 " (1 + the largest id seen); give --num-experts E if it is more");
    }
    if (k > facts.numExperts)
        throw DumpError(st.files.front().path, "", "the trace chooses top-" + std::to_string(k) + " of " +
                                                       std::to_string(facts.numExperts) + " experts; k must be 1 to E");
    return facts;
}

ImportedRecord readTrace(const std::string &source, const ImportOptions &options, const Progress &progress)
{
    auto st = std::make_shared<StreamState>();
    st->files = traceFiles(source);
    if (st->files.empty())
        throw DumpError(source, "", "holds no router_trace_rank{R}.jsonl files (a Megatron-Core router trace folder)");
    if (const auto ranks = options.integerSet("ranks")) { // e.g. the ranks of one pipeline stage
        std::erase_if(st->files, [&](const TraceFile &f) { return !ranks->count(f.rank); });
        if (st->files.empty())
            throw DumpError(source, "", "holds no router_trace_rank{R}.jsonl of the ranks --ranks names");
    }
    const std::optional<long long> step = options.integer("step", 0, (1LL << 62));
    for (const TraceFile &f : st->files)
        st->texts.push_back(std::make_unique<MappedText>(f.path));
    st->records = parseHeaders(st->files, st->texts, step);
    auto &records = st->records;
    if (records.empty())
        throw DumpError(source, "", step ? "has no records of step " + std::to_string(*step) : "holds no records");
    progress.report(0.3);
    const Assembly a{st->files, records};
    const Layout layout = layOut(a);
    const int k = st->topK = layout.topK;
    st->experts = recordedExperts(a, options);
    if (st->experts && (*st->experts < 1 || *st->experts > 4096))
        throw DumpError(source, "", "the trace has " + std::to_string(*st->experts) + " experts; a dump holds 1 to 4096");
    if (st->experts && k > *st->experts)
        throw DumpError(source, "", "the trace chooses top-" + std::to_string(k) + " of " + std::to_string(*st->experts) +
                                        " experts; k must be 1 to E");

    ImportedRecord out;
    out.topK = k;
    out.numExperts = st->experts.value_or(0); // else settled by the stream
    out.sequenceOffsets.push_back(0);
    std::set<std::int64_t> steps;
    std::map<SequenceKey, std::int64_t> sequenceStart;
    for (const auto &[sk, i] : layout.sequences) {
        sequenceStart[sk] = out.sequenceOffsets.back();
        out.sequenceOffsets.push_back(out.sequenceOffsets.back() + records[i].numTokens);
        out.sequenceLabels.push_back("step " + std::to_string(std::get<0>(sk)) + " rank " + std::to_string(std::get<1>(sk)));
        steps.insert(std::get<0>(sk));
    }
    out.numTokens = out.sequenceOffsets.back();
    const std::string folder = fs::is_directory(source) ? source : fs::path(source).parent_path().string();
    for (const auto &[lk, bySequence] : layout.layers) {
        ImportedLayer layer;
        layer.name = layerName(lk);
        layer.index = std::int64_t(out.layers.size()); // decoder layers in order, then MTP
        layer.streamed = true;
        bool logits = true, some = false;
        for (const auto &[sk, i] : bySequence) {
            records[i].layerPos = out.layers.size();
            records[i].firstRow = sequenceStart[sk];
            logits = logits && records[i].logitOffset >= 0;
            some = some || records[i].logitOffset >= 0;
        }
        if (logits) {
            const int E = *st->experts; // known: the logits' shape says it
            layer.logits.resize(std::size_t(out.numTokens) * std::size_t(E));
            for (const auto &[sk, i] : bySequence)
                readLogits(a, records[i], E, folder, layer.logits.data() + std::size_t(records[i].firstRow) * std::size_t(E));
        } else if (some) {
            out.warnings.push_back("layer " + layer.name + ": only some records have logits; its logits are left out");
        }
        out.layers.push_back(std::move(layer));
    }
    // The logits stay where they are when the record is returned (a vector's buffer
    // moves with it), so the stream may point at them.
    for (const ImportedLayer &l : out.layers)
        st->logits.push_back(l.logits.empty() ? nullptr : l.logits.data());
    out.streamChoices = [st](ChoiceSink &sink) { return streamIds(*st, sink); };
    out.stringAttributes["source"] = "megatron-core router trace";
    out.stringAttributes["source_layout"] = "router_trace_rank{R}.jsonl (top_indices), logits_rank{R}.bin (bfloat16)";
    if (steps.size() == 1)
        out.numberAttributes["checkpoint_step"] = double(*steps.begin());
    progress.report(1.0);
    return out;
}

bool looksLikeTrace(const std::string &source)
{
    return !traceFiles(source).empty();
}

} // namespace

ImportFormat megatronTraceFormat()
{
    ImportFormat f;
    f.name = "megatron";
    f.description = "Megatron-Core router trace (router_trace_rank{R}.jsonl)";
    f.options = {"step", "ranks"};
    f.detect = looksLikeTrace;
    f.read = readTrace;
    return f;
}

} // namespace moescope::import
