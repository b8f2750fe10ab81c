// The importers' dump writer: checks, then HDF5 datasets in the simplest storage the
// reader takes fastest (contiguous, uncompressed: logits are read with plain pread calls).
#include "io/DumpWriter.h"

#include "io/DumpError.h"
#include "io/Hdf5Door.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <set>

namespace moescope {

using import::ImportedLayer;
using import::ImportedRecord;
using io::Handle;

namespace {

struct Target {
    std::string path;
    [[noreturn]] void fail(const std::string &object, const std::string &problem) const
    {
        throw DumpError(path, object, problem);
    }
};

std::string layerObject(const ImportedLayer &l, const char *member = nullptr)
{
    return "/layers/" + l.name + (member ? std::string("/") + member : std::string());
}

// Every rule of dump-format.md the record could break, before anything is written.
void checkRecord(const ImportedRecord &r, const Target &t)
{
    const std::int64_t T = r.numTokens, E = r.numExperts, k = r.topK;
    const bool settledLater = E == 0 && r.streamChoices; // by the choice stream; checked again then
    if (!settledLater && (E < 1 || E > 4096))
        t.fail("/", "num_experts is " + std::to_string(E) + ", must be 1 to 4096");
    if (k < 1 || (!settledLater && k > E))
        t.fail("/", "top_k is " + std::to_string(k) + ", must be 1 to num_experts (" + std::to_string(E) + ")");
    if (T < 1)
        t.fail("/", "the record holds no tokens (T = 0): nothing to write");
    if (r.scoring != "softmax" && r.scoring != "sigmoid")
        t.fail("/", "scoring '" + r.scoring + "' is neither softmax nor sigmoid");
    if (r.layers.empty())
        t.fail("/layers", "the record holds no layers");
    std::set<std::string> names;
    for (const ImportedLayer &l : r.layers) {
        if (l.name.empty() || l.name.find('/') != std::string::npos || l.name == "." || l.name == "..")
            t.fail("/layers", "layer name '" + l.name + "' cannot name an HDF5 group");
        if (!names.insert(l.name).second)
            t.fail(layerObject(l), "two layers have this name");
        if (l.choices.empty() && l.logits.empty() && l.counts.empty() && !l.streamed)
            t.fail(layerObject(l), "holds neither choices nor logits nor counts");
        if (l.streamed && (!r.streamChoices || !l.choices.empty()))
            t.fail(layerObject(l, "topk_ids"), "is streamed but the record has no choice stream, or holds choices too");
        if (E == 0 && (!l.logits.empty() || !l.counts.empty() || !l.choices.empty()))
            t.fail(layerObject(l), "holds logits, choices or counts but the record does not say E (only streamed "
                                   "choices may leave it to the stream)");
        if (!l.choices.empty()) {
            if (std::int64_t(l.choices.size()) != T * k)
                t.fail(layerObject(l, "topk_ids"), "holds " + std::to_string(l.choices.size()) +
                                                       " choices, expected T * k = " + std::to_string(T * k));
            for (std::size_t i = 0; i < l.choices.size(); ++i)
                if (l.choices[i] < 0 || l.choices[i] >= E)
                    t.fail(layerObject(l, "topk_ids"),
                           "token " + std::to_string(i / k) + " slot " + std::to_string(i % k) +
                               (l.choices[i] == -1 ? " holds no choice (-1); the dump format needs k choices per token"
                                                   : " names expert " + std::to_string(l.choices[i]) +
                                                         ", outside [0, " + std::to_string(E) + ")"));
        }
        if (!l.weights.empty() && l.weights.size() != l.choices.size())
            t.fail(layerObject(l, "topk_weights"), "must have one weight per choice (T * k)");
        if (!l.logits.empty() && std::int64_t(l.logits.size()) != T * E)
            t.fail(layerObject(l, "logits"), "holds " + std::to_string(l.logits.size()) +
                                                 " values, expected T * E = " + std::to_string(T * E));
        if (!l.counts.empty()) {
            if (std::int64_t(l.counts.size()) != E)
                t.fail(layerObject(l, "counts"), "must hold E = " + std::to_string(E) + " counts");
            for (std::size_t e = 0; e < l.counts.size(); ++e)
                if (!std::isfinite(l.counts[e]) || l.counts[e] < 0)
                    t.fail(layerObject(l, "counts"), "count of expert " + std::to_string(e) + " is not a finite non-negative number");
        }
    }
    if (!r.tokenIds.empty() && std::int64_t(r.tokenIds.size()) != T)
        t.fail("/tokens/ids", "holds " + std::to_string(r.tokenIds.size()) + " ids for T = " + std::to_string(T));
    for (std::size_t i = 0; i < r.tokenIds.size(); ++i)
        if (r.tokenIds[i] < 0 || (!r.vocab.empty() && r.tokenIds[i] >= std::int64_t(r.vocab.size())))
            t.fail("/tokens/ids", "token id " + std::to_string(r.tokenIds[i]) + " at position " + std::to_string(i) +
                                      " is negative or outside the vocabulary");
    const auto &o = r.sequenceOffsets;
    if (!o.empty()) {
        if (o.size() < 2 || o.front() != 0 || o.back() != T)
            t.fail("/tokens/sequence_offsets", "must run from 0 to T = " + std::to_string(T));
        for (std::size_t i = 1; i < o.size(); ++i)
            if (o[i] < o[i - 1])
                t.fail("/tokens/sequence_offsets", "entries decrease at position " + std::to_string(i));
    }
    const std::size_t sequences = o.empty() ? 1 : o.size() - 1;
    if (!r.sequenceLabels.empty() && r.sequenceLabels.size() != sequences)
        t.fail("/tokens/sequence_labels", "holds " + std::to_string(r.sequenceLabels.size()) + " labels for " +
                                              std::to_string(sequences) + " sequences");
    const auto &tr = r.training;
    if (!tr.empty()) {
        const std::size_t N = tr.steps.size(), L = r.layers.size();
        if (tr.layerNames.size() != L)
            t.fail("/training/layer_names", "must name the " + std::to_string(L) + " layers");
        if (!tr.tokensPerExpert.empty() && tr.tokensPerExpert.size() != N * L * std::size_t(E))
            t.fail("/training/tokens_per_expert", "must have shape [N, L, E]");
        for (std::int64_t c : tr.tokensPerExpert)
            if (c < 0)
                t.fail("/training/tokens_per_expert", "holds a negative count");
        for (const auto *s : {&tr.lbLoss, &tr.zLoss})
            if (!s->empty() && s->size() != N * L)
                t.fail("/training", "lb_loss and z_loss must have shape [N, L]");
    }
}

class Writer {
public:
    explicit Writer(const Target &t) : m_t(t) {}

    void ok(herr_t status, const std::string &object, const char *what) const
    {
        if (status < 0)
            m_t.fail(object, std::string(what) + " failed (" + io::lastHdf5Message() + ")");
    }
    Handle made(hid_t id, const std::string &object, const char *what) const
    {
        if (id < 0)
            m_t.fail(object, std::string(what) + " failed (" + io::lastHdf5Message() + ")");
        return Handle(id);
    }

    void dataset(hid_t parent, const std::string &object, const std::string &name, hid_t fileType, hid_t memType,
                 const std::vector<hsize_t> &dims, const void *data) const
    {
        const Handle space = made(H5Screate_simple(int(dims.size()), dims.data(), nullptr), object, "making a dataspace");
        const Handle ds = made(H5Dcreate2(parent, name.c_str(), fileType, space.get(), H5P_DEFAULT, H5P_DEFAULT,
                                          H5P_DEFAULT),
                               object, "creating the dataset");
        hsize_t n = 1;
        for (hsize_t d : dims)
            n *= d;
        if (n)
            ok(H5Dwrite(ds.get(), memType, H5S_ALL, H5S_ALL, H5P_DEFAULT, data), object, "writing");
    }

    // [n] zeros that take no room: a chunked dataset whose chunks are never written
    // reads as its fill value (0).
    void zeros(hid_t parent, const std::string &object, const std::string &name, hid_t fileType, hsize_t n) const
    {
        const Handle space = made(H5Screate_simple(1, &n, nullptr), object, "making a dataspace");
        const Handle dcpl = made(H5Pcreate(H5P_DATASET_CREATE), object, "making a property list");
        const hsize_t chunk = std::min<hsize_t>(n, 1 << 16);
        ok(H5Pset_chunk(dcpl.get(), 1, &chunk), object, "setting the chunk size");
        const std::int64_t zero = 0;
        ok(H5Pset_fill_value(dcpl.get(), H5T_NATIVE_INT64, &zero), object, "setting the fill value");
        made(H5Dcreate2(parent, name.c_str(), fileType, space.get(), H5P_DEFAULT, dcpl.get(), H5P_DEFAULT), object,
             "creating the dataset");
    }

    void strings(hid_t parent, const std::string &object, const std::string &name,
                 const std::vector<std::string> &values) const
    {
        const Handle type = utf8();
        std::vector<const char *> pointers;
        for (const std::string &v : values)
            pointers.push_back(v.c_str());
        dataset(parent, object, name, type.get(), type.get(), {hsize_t(values.size())}, pointers.data());
    }

    void attribute(hid_t object, const std::string &name, double value) const
    {
        const Handle space = made(H5Screate(H5S_SCALAR), "/", "making a dataspace");
        const bool integral = std::isfinite(value) && value == std::floor(value) && std::abs(value) < 9e15;
        const Handle attr = made(H5Acreate2(object, name.c_str(), integral ? H5T_STD_I64LE : H5T_IEEE_F64LE,
                                            space.get(), H5P_DEFAULT, H5P_DEFAULT),
                                 "/", "creating an attribute");
        const std::int64_t asInteger = integral ? std::int64_t(value) : 0;
        ok(integral ? H5Awrite(attr.get(), H5T_NATIVE_INT64, &asInteger) : H5Awrite(attr.get(), H5T_NATIVE_DOUBLE, &value),
           "/", ("writing attribute " + name).c_str());
    }

    void attribute(hid_t object, const std::string &name, const std::string &value) const
    {
        const Handle space = made(H5Screate(H5S_SCALAR), "/", "making a dataspace");
        const Handle type = utf8();
        const Handle attr = made(H5Acreate2(object, name.c_str(), type.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT),
                                 "/", "creating an attribute");
        const char *text = value.c_str();
        ok(H5Awrite(attr.get(), type.get(), &text), "/", ("writing attribute " + name).c_str());
    }

private:
    Handle utf8() const
    {
        Handle type = made(H5Tcopy(H5T_C_S1), "/", "making a string type");
        H5Tset_size(type.get(), H5T_VARIABLE);
        H5Tset_cset(type.get(), H5T_CSET_UTF8);
        return type;
    }
    const Target &m_t;
};

// Takes the streamed rows of every streamed layer into its (already created) topk_ids.
class DatasetSink : public import::ChoiceSink {
public:
    DatasetSink(const Target &t, const ImportedRecord &r, const Progress &progress)
        : m_t(t), m_r(r), m_progress(progress), m_datasets(r.layers.size()), m_rows(r.layers.size(), 0)
    {
        for (const ImportedLayer &l : r.layers)
            m_total += l.streamed ? r.numTokens : 0;
    }
    std::vector<Handle> &datasets() { return m_datasets; }

    void write(std::size_t layer, std::int64_t firstRow, std::int64_t rows, const std::int16_t *ids) override
    {
        auto lock = io::hdf5Lock();
        m_progress.checkCancelled();
        const std::string object = layer < m_r.layers.size() ? layerObject(m_r.layers[layer], "topk_ids") : "/layers";
        if (layer >= m_datasets.size() || !m_datasets[layer].valid() || firstRow < 0 || rows < 0 ||
            firstRow + rows > m_r.numTokens)
            m_t.fail(object, "the choice stream wrote outside the layer's rows");
        if (rows == 0)
            return;
        const hid_t ds = m_datasets[layer].get();
        const Handle space(H5Dget_space(ds));
        const hsize_t start[2] = {hsize_t(firstRow), 0}, count[2] = {hsize_t(rows), hsize_t(m_r.topK)};
        const Handle memory(H5Screate_simple(2, count, nullptr));
        if (!space.valid() || !memory.valid() ||
            H5Sselect_hyperslab(space.get(), H5S_SELECT_SET, start, nullptr, count, nullptr) < 0 ||
            H5Dwrite(ds, H5T_NATIVE_INT16, memory.get(), space.get(), H5P_DEFAULT, ids) < 0)
            m_t.fail(object, "writing rows failed (" + io::lastHdf5Message() + ")");
        m_rows[layer] += rows;
        m_written += rows;
        m_progress.report(double(m_written) / double(std::max<std::int64_t>(1, m_total)));
    }

    // Every streamed row written once.
    void checkComplete() const
    {
        for (std::size_t l = 0; l < m_r.layers.size(); ++l)
            if (m_r.layers[l].streamed && m_rows[l] != m_r.numTokens)
                m_t.fail(layerObject(m_r.layers[l], "topk_ids"), "the choice stream wrote " + std::to_string(m_rows[l]) +
                                                                     " of its " + std::to_string(m_r.numTokens) + " rows");
    }

private:
    const Target &m_t;
    const ImportedRecord &m_r;
    const Progress &m_progress;
    std::vector<Handle> m_datasets;
    std::vector<std::int64_t> m_rows;
    std::int64_t m_total = 0, m_written = 0;
};

void writeLayer(const Writer &w, hid_t layers, const ImportedLayer &l, const ImportedRecord &r, Handle *streamed)
{
    const std::string object = layerObject(l);
    const Handle g = w.made(H5Gcreate2(layers, l.name.c_str(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), object,
                            "creating the layer group");
    if (l.index)
        w.attribute(g.get(), "index", double(*l.index));
    const auto T = hsize_t(r.numTokens), E = hsize_t(r.numExperts), k = hsize_t(r.topK);
    if (!l.logits.empty())
        w.dataset(g.get(), object + "/logits", "logits", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, {T, E}, l.logits.data());
    if (!l.choices.empty()) // int16 in memory and in the file: E <= 4096
        w.dataset(g.get(), object + "/topk_ids", "topk_ids", H5T_STD_I16LE, H5T_NATIVE_INT16, {T, k}, l.choices.data());
    if (l.streamed) { // made now, filled by the stream
        const hsize_t dims[2] = {T, k};
        const Handle space = w.made(H5Screate_simple(2, dims, nullptr), object, "making a dataspace");
        *streamed = w.made(H5Dcreate2(g.get(), "topk_ids", H5T_STD_I16LE, space.get(), H5P_DEFAULT, H5P_DEFAULT,
                                      H5P_DEFAULT),
                           object + "/topk_ids", "creating the dataset");
    }
    if (!l.weights.empty())
        w.dataset(g.get(), object + "/topk_weights", "topk_weights", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, {T, k},
                  l.weights.data());
    if (!l.counts.empty()) {
        // Whole counts are written as integers, others (averages, weighted sums) as floats.
        bool whole = true;
        for (double c : l.counts)
            whole = whole && c == std::floor(c) && c < 9e15;
        if (whole) {
            std::vector<std::int64_t> counts(l.counts.begin(), l.counts.end());
            w.dataset(g.get(), object + "/counts", "counts", H5T_STD_I64LE, H5T_NATIVE_INT64, {E}, counts.data());
        } else {
            w.dataset(g.get(), object + "/counts", "counts", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, {E}, l.counts.data());
        }
    }
}

void writeTokens(const Writer &w, hid_t file, const ImportedRecord &r)
{
    const Handle g = w.made(H5Gcreate2(file, "tokens", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), "/tokens",
                            "creating the group");
    const auto T = hsize_t(r.numTokens);
    if (r.tokenIds.empty()) {
        w.zeros(g.get(), "/tokens/ids", "ids", H5T_STD_I32LE, T); // no token ids recorded: all 0, no vocabulary
    } else {
        w.dataset(g.get(), "/tokens/ids", "ids", H5T_STD_I64LE, H5T_NATIVE_INT64, {T}, r.tokenIds.data());
    }
    if (!r.vocab.empty())
        w.strings(g.get(), "/tokens/vocab", "vocab", r.vocab);
    if (!r.sequenceOffsets.empty())
        w.dataset(g.get(), "/tokens/sequence_offsets", "sequence_offsets", H5T_STD_I64LE, H5T_NATIVE_INT64,
                  {hsize_t(r.sequenceOffsets.size())}, r.sequenceOffsets.data());
    if (!r.sequenceLabels.empty())
        w.strings(g.get(), "/tokens/sequence_labels", "sequence_labels", r.sequenceLabels);
}

void writeTraining(const Writer &w, hid_t file, const ImportedRecord &r)
{
    const auto &tr = r.training;
    const Handle g = w.made(H5Gcreate2(file, "training", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), "/training",
                            "creating the group");
    const auto N = hsize_t(tr.steps.size()), L = hsize_t(tr.layerNames.size()), E = hsize_t(r.numExperts);
    w.dataset(g.get(), "/training/step", "step", H5T_STD_I64LE, H5T_NATIVE_INT64, {N}, tr.steps.data());
    w.strings(g.get(), "/training/layer_names", "layer_names", tr.layerNames);
    if (!tr.tokensPerExpert.empty())
        w.dataset(g.get(), "/training/tokens_per_expert", "tokens_per_expert", H5T_STD_I64LE, H5T_NATIVE_INT64,
                  {N, L, E}, tr.tokensPerExpert.data());
    if (!tr.lbLoss.empty())
        w.dataset(g.get(), "/training/lb_loss", "lb_loss", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, {N, L}, tr.lbLoss.data());
    if (!tr.zLoss.empty())
        w.dataset(g.get(), "/training/z_loss", "z_loss", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, {N, L}, tr.zLoss.data());
}

// A name no other writer in this folder uses: the target's, hidden, with the process
// id and a counter.
std::string temporaryName(const std::string &path)
{
    static std::atomic<unsigned> counter{0};
    const std::filesystem::path p(path);
    const std::string name = "." + p.filename().string() + ".import-" + std::to_string(::getpid()) + "-" +
                             std::to_string(counter++) + ".tmp";
    return (p.parent_path() / name).string();
}

import::StreamedFacts writeFile(const ImportedRecord &r, const Target &t, const std::string &tmp,
                                const Progress &progress)
{
    auto lock = io::hdf5Lock();
    const Writer w(t);
    // The default libver ("earliest") keeps the file readable by HDF5 1.10.
    const Handle file = w.made(H5Fcreate(tmp.c_str(), H5F_ACC_EXCL, H5P_DEFAULT, H5P_DEFAULT), "",
                               "creating the file");
    const hid_t f = file.get();
    w.attribute(f, "format", std::string("moe-routing"));
    w.attribute(f, "format_version", 1.0);
    w.attribute(f, "scoring", r.scoring);
    for (const auto &[name, value] : r.stringAttributes)
        w.attribute(f, name, value);
    for (const auto &[name, value] : r.numberAttributes)
        w.attribute(f, name, value);
    const bool tokens = r.hasPerTokenLayers() || !r.tokenIds.empty();
    if (tokens)
        writeTokens(w, f, r);
    else if (!r.numberAttributes.count("num_tokens"))
        w.attribute(f, "num_tokens", double(r.numTokens)); // a load-only dump says T here
    const Handle layers = w.made(H5Gcreate2(f, "layers", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), "/layers",
                                 "creating the group");
    const Progress layersPart = progress.part(0, r.streamChoices ? 0.2 : 1.0), streamPart = progress.part(0.2, 1.0);
    DatasetSink sink(t, r, streamPart);
    for (std::size_t i = 0; i < r.layers.size(); ++i) {
        progress.checkCancelled();
        writeLayer(w, layers.get(), r.layers[i], r, &sink.datasets()[i]);
        layersPart.report(double(i + 1) / double(r.layers.size() + 1));
    }
    if (!r.training.empty())
        writeTraining(w, f, r);
    import::StreamedFacts facts;
    if (r.streamChoices) {
        lock.unlock(); // the stream's threads write through the door
        facts = r.streamChoices(sink);
        lock.lock();
        sink.checkComplete();
    }
    // E and k last: a stream may have settled E.
    if (r.numExperts != 0)
        facts.numExperts = r.numExperts;
    const int E = facts.numExperts;
    if (E < 1 || E > 4096)
        t.fail("/", "num_experts is " + std::to_string(E) + ", must be 1 to 4096");
    if (r.topK > E)
        t.fail("/", "top_k is " + std::to_string(r.topK) + ", more than num_experts (" + std::to_string(E) + ")");
    w.attribute(f, "num_experts", double(E));
    w.attribute(f, "top_k", double(r.topK));
    w.ok(H5Fflush(f, H5F_SCOPE_GLOBAL), "", "flushing the file");
    return facts;
}

} // namespace

import::StreamedFacts writeImportedDump(const ImportedRecord &record, const std::string &path, const Progress &progress)
{
    const Target target{path};
    checkRecord(record, target);
    std::error_code error;
    const std::filesystem::path folder = std::filesystem::path(path).parent_path();
    if (!folder.empty() && !std::filesystem::is_directory(folder, error))
        target.fail("", "cannot be written: the folder " + folder.string() + " does not exist");
    const std::string tmp = temporaryName(path);
    import::StreamedFacts facts;
    try {
        facts = writeFile(record, target, tmp, progress); // closes the file before the rename
        progress.checkCancelled();
        std::filesystem::rename(tmp, path, error);
        if (error)
            target.fail("", "cannot be written (renaming the finished temporary file failed: " + error.message() + ")");
    } catch (...) {
        std::error_code ignored;
        std::filesystem::remove(tmp, ignored);
        throw;
    }
    progress.report(1.0);
    facts.warnings.insert(facts.warnings.begin(), record.warnings.begin(), record.warnings.end());
    return facts;
}

} // namespace moescope
