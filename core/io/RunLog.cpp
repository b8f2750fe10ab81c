#include "io/RunLog.h"

#include "io/DumpError.h"
#include "io/Hdf5Objects.h"

#include <sys/stat.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cmath>
#include <fstream>
#include <limits>

namespace moescope {

using io::Handle;
using io::Site;

namespace {

// Who the file at `path` is now: a new run that replaced it has another inode, a
// change outside SWMR shows in the size or modification time.
struct FileIdentity {
    dev_t device = 0;
    ino_t inode = 0;
    off_t size = 0;
    std::int64_t mtimeNs = 0;
    bool exists = false;
    bool sameFile(const FileIdentity &o) const { return device == o.device && inode == o.inode; }
    bool sameContent(const FileIdentity &o) const { return sameFile(o) && size == o.size && mtimeNs == o.mtimeNs; }
};

FileIdentity identityOf(const std::string &path)
{
    FileIdentity id;
    struct stat st{};
    if (::stat(path.c_str(), &st) != 0)
        return id;
    id.exists = true;
    id.device = st.st_dev;
    id.inode = st.st_ino;
    id.size = st.st_size;
    id.mtimeNs = std::int64_t(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
    return id;
}

// The file consistency flags of the HDF5 superblock: bit 0 "open for writing", bit 2
// "open for SWMR writing"; 0 for a file closed cleanly or with an older superblock.
// The superblock sits at 0, or after a user block of 512, 1024, ... bytes; it starts
// with the 8-byte signature and its version, and versions 2 and 3 keep the flags in
// byte 11.
int superblockFlagsIn(const unsigned char *bytes, std::size_t size)
{
    static const unsigned char signature[8] = {0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n'};
    for (std::size_t at = 0; at <= 65536 && at + 12 <= size; at = at ? at * 2 : 512) {
        const unsigned char *head = bytes + at;
        if (std::equal(signature, signature + 8, head)) {
            const bool flagsKept = head[8] == 2 || head[8] == 3;
            return flagsKept && (head[11] & ~0x07) == 0 ? head[11] : 0; // other bits: not a superblock we know
        }
    }
    return 0;
}

int superblockFlags(const std::string &path)
{
    std::ifstream in(path, std::ios::binary);
    std::vector<unsigned char> head(65536 + 12);
    in.read(reinterpret_cast<char *>(head.data()), std::streamsize(head.size()));
    return superblockFlagsIn(head.data(), std::size_t(in.gcount()));
}

constexpr int kSwmrWriter = 0x01 | 0x04;

// A number from the file as text for a message, whatever its size ("1e+300", "nan").
std::string numberText(double value)
{
    char text[32];
    std::snprintf(text, sizeof text, "%.17g", value);
    return text;
}

const char *seriesName(RunLogSeries s)
{
    switch (s) {
    case RunLogSeries::LbLoss: return "lb_loss";
    case RunLogSeries::ZLoss: return "z_loss";
    case RunLogSeries::MaxVio: return "max_vio";
    case RunLogSeries::DroppedFraction: return "dropped_fraction";
    }
    return "";
}

constexpr std::array<RunLogSeries, 4> allSeries{RunLogSeries::LbLoss, RunLogSeries::ZLoss, RunLogSeries::MaxVio,
                                                RunLogSeries::DroppedFraction};

} // namespace

struct RunLogReader::Impl {
    std::string path;
    std::vector<unsigned char> image; // the file's bytes when it is read from memory (FileImage.h)
    RunLogInfo info;
    Handle file, training, step, tpe, bias;
    std::array<Handle, 4> series; // by RunLogSeries
    std::size_t n = 0;
    FileIdentity identity;

    Site root() const { return {path, "/"}; }
    Site trainingSite() const { return root().child("training"); }

    void open();
    std::size_t completeSteps(bool refresh);
    void checkRange(std::size_t begin, std::size_t count) const
    {
        if (begin > n || count > n - begin)
            trainingSite().child("step").fail("has no complete records " + std::to_string(begin) + " to " +
                                              std::to_string(begin + count) + " (" + std::to_string(n) +
                                              " are complete)");
    }
};

void RunLogReader::Impl::open()
{
    identity = image.empty() ? identityOf(path) : FileIdentity{};
    if (image.empty() && !identity.exists)
        root().fail("does not exist");
    auto lock = io::hdf5Lock();
    for (Handle *h : {&bias, &tpe, &step, &training})
        h->reset();
    for (Handle &h : series)
        h.reset();
    file.reset();
    info = RunLogInfo{};
    n = 0;
    info.file = path;
    if (!image.empty()) {
        file = Handle(io::openFileImage(path, image.data(), image.size()));
    } else {
        // SWMR first (a writer may be appending); a file HDF5 cannot open that way (not
        // written in SWMR mode, an older superblock) is read the ordinary way.
        file = Handle(H5Fopen(path.c_str(), H5F_ACC_RDONLY | H5F_ACC_SWMR_READ, H5P_DEFAULT));
        // HDF5 opens any file this way; only a SWMR writer's appends can be followed by
        // refreshing the datasets (checked again at every refresh).
        info.swmr = file.valid() && (superblockFlags(path) & kSwmrWriter) == kSwmrWriter;
        if (!file.valid()) {
            io::lastHdf5Message();
            file = Handle(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT));
        }
    }
    if (!file.valid())
        root().fail("cannot be opened as an HDF5 file (" + io::lastHdf5Message() + ")");
    const Site r = root();
    const auto format = io::stringAttribute(file.get(), r, "format");
    if (!format || *format != "moe-routing")
        r.fail("attribute 'format' must be 'moe-routing'");
    const auto version = io::numberAttribute(file.get(), r, "format_version");
    if (!version)
        r.fail("required attribute 'format_version' is missing");
    // Compared as numbers before any conversion: the file may hold 1e300 or NaN.
    if (*version != 1)
        r.fail("format_version " + numberText(*version) +
               (*version > 1 ? " is newer than this MoE Scope reads (1)" : " is not valid (expected 1)"));
    const auto experts = io::numberAttribute(file.get(), r, "num_experts");
    if (!experts || *experts < 1 || *experts > 4096 || *experts != std::floor(*experts))
        r.fail("attribute 'num_experts' must be an integer in 1..4096");
    info.numExperts = std::size_t(*experts);
    if (const auto k = io::numberAttribute(file.get(), r, "top_k")) {
        if (!(*k >= 1 && *k <= double(info.numExperts) && *k == std::floor(*k)))
            r.fail("attribute 'top_k' is " + numberText(*k) + ", must be an integer in 1..num_experts (" +
                   std::to_string(info.numExperts) + ")");
        info.topK = int(*k);
    }
    if (const auto cf = io::numberAttribute(file.get(), r, "capacity_factor"); cf && std::isfinite(*cf) && *cf > 0)
        info.capacityFactor = *cf;
    if (const auto model = io::stringAttribute(file.get(), r, "model"))
        info.model = *model;

    const Site t = trainingSite();
    training = io::openMember(file.get(), r, "training", H5I_GROUP);
    if (!training.valid())
        t.fail("is missing; a run log holds the /training series");
    step = io::openMember(training.get(), t, "step", H5I_DATASET);
    if (!step.valid())
        t.child("step").fail("is missing; /training needs the step of each record");
    if (io::shapeOf(step.get(), t.child("step")).size() != 1)
        t.child("step").fail("must be one-dimensional [N]");
    if (io::typeClassOf(step.get(), t.child("step")) != H5T_INTEGER)
        t.child("step").fail("must hold integers");

    std::size_t layers = 0;
    auto agreeLayers = [&](const Site &s, hsize_t l) {
        if (layers == 0)
            layers = std::size_t(l);
        else if (layers != l)
            s.fail("has " + std::to_string(l) + " layers where other series have " + std::to_string(layers));
    };
    tpe = io::openMember(training.get(), t, "tokens_per_expert", H5I_DATASET);
    bias = io::openMember(training.get(), t, "expert_bias", H5I_DATASET);
    for (auto *h : {&tpe, &bias}) {
        if (!h->valid())
            continue;
        const Site s = t.child(h == &tpe ? "tokens_per_expert" : "expert_bias");
        // Read a range of steps at a time: chunks past the written steps may be missing.
        const auto dims = io::shapeOf(h->get(), s, io::Declared::MayBeSparse);
        if (dims.size() != 3 || dims[2] != info.numExperts)
            s.fail("must have shape [N, L, E] with E = " + std::to_string(info.numExperts));
        agreeLayers(s, dims[1]);
    }
    if (tpe.valid() && io::typeClassOf(tpe.get(), t.child("tokens_per_expert")) != H5T_INTEGER)
        t.child("tokens_per_expert").fail("must hold integers");
    for (RunLogSeries which : allSeries) {
        Handle &h = series[std::size_t(which)];
        h = io::openMember(training.get(), t, seriesName(which), H5I_DATASET);
        if (!h.valid())
            continue;
        const Site s = t.child(seriesName(which));
        const auto dims = io::shapeOf(h.get(), s, io::Declared::MayBeSparse);
        if (dims.size() != 2)
            s.fail("must have shape [N, L]");
        agreeLayers(s, dims[1]);
    }
    if (Handle names = io::openMember(training.get(), t, "layer_names", H5I_DATASET); names.valid()) {
        info.layerNames = io::readStrings(names.get(), t.child("layer_names"));
        agreeLayers(t.child("layer_names"), info.layerNames.size());
    }
    if (layers == 0)
        t.fail("holds no per-layer series (tokens_per_expert, lb_loss, z_loss or max_vio)");
    info.numLayers = layers;
    if (info.layerNames.empty())
        for (std::size_t l = 0; l < layers; ++l)
            info.layerNames.push_back((l < 10 ? "0" : "") + std::to_string(l));
    info.hasCounts = tpe.valid();
    info.hasExpertBias = bias.valid();
    info.hasLbLoss = series[0].valid();
    info.hasZLoss = series[1].valid();
    info.hasMaxVio = series[2].valid();
    info.hasDroppedFraction = series[3].valid();
    n = completeSteps(false);
}

std::size_t RunLogReader::Impl::completeSteps(bool refresh)
{
    auto lock = io::hdf5Lock();
    const Site t = trainingSite();
    // `step` first: the writer extends it last, so every other dataset is at least
    // as long as the length read here (one written otherwise is cut to the shortest).
    auto length = [&](const Handle &h, const char *name) -> std::size_t {
        if (refresh && info.swmr && H5Drefresh(h.get()) < 0)
            t.child(name).fail("cannot be refreshed (" + io::lastHdf5Message() + ")");
        // `step` must be held whole (its length is believed), the others may be sparse.
        const auto dims =
            io::shapeOf(h.get(), t.child(name), &h == &step ? io::Declared::MustFit : io::Declared::MayBeSparse);
        return std::size_t(dims[0]);
    };
    std::size_t count = length(step, "step");
    if (tpe.valid())
        count = std::min(count, length(tpe, "tokens_per_expert"));
    if (bias.valid())
        count = std::min(count, length(bias, "expert_bias"));
    for (RunLogSeries which : allSeries)
        if (series[std::size_t(which)].valid())
            count = std::min(count, length(series[std::size_t(which)], seriesName(which)));
    return count;
}

RunLogReader::RunLogReader(std::string path) : d(std::make_unique<Impl>())
{
    d->path = std::move(path);
    d->open();
}

RunLogReader::RunLogReader(std::string name, FileImage image) : d(std::make_unique<Impl>())
{
    d->path = std::move(name);
    if (image.size == 0)
        d->root().fail("is empty, not an HDF5 file");
    const auto *bytes = static_cast<const unsigned char *>(image.data);
    d->image.assign(bytes, bytes + image.size);
    d->open();
}

RunLogReader::~RunLogReader() = default;

const RunLogInfo &RunLogReader::info() const { return d->info; }
std::size_t RunLogReader::numSteps() const { return d->n; }

RunLogReader::Change RunLogReader::refresh()
{
    if (!d->image.empty())
        return Change::None; // bytes in memory do not change
    const FileIdentity now = identityOf(d->path);
    // A failed open (a new file still being set up by its writer) is tried again on
    // the next refresh: the identity is forgotten so that it cannot look unchanged.
    auto reopen = [this] {
        try {
            d->open();
        } catch (...) {
            d->identity = FileIdentity{};
            throw;
        }
    };
    if (now.exists && !now.sameFile(d->identity)) {
        reopen();
        return Change::Replaced;
    }
    const bool swmrWriter = d->info.swmr && (superblockFlags(d->path) & kSwmrWriter) == kSwmrWriter;
    if (!swmrWriter) {
        // The SWMR writer closed the file, or there never was one.
        if (now.sameContent(d->identity))
            return Change::None;
        // Not written in SWMR mode: the only safe way to see a change is a fresh open.
        const std::size_t before = d->n;
        const std::int64_t lastStep = before ? steps(before - 1, 1)[0] : 0;
        reopen();
        if (d->n < before || (before && steps(before - 1, 1)[0] != lastStep))
            return Change::Reopened;
        return d->n > before ? Change::Grew : Change::None;
    }
    const std::size_t before = d->n;
    d->n = std::max(before, d->completeSteps(true));
    d->identity = now;
    return d->n > before ? Change::Grew : Change::None;
}

bool RunLogReader::writerOpen() const
{
    if (!d->image.empty())
        return (superblockFlagsIn(d->image.data(), d->image.size()) & 0x01) != 0;
    return hdf5FileOpenForWriting(d->path);
}

std::vector<std::int64_t> RunLogReader::steps(std::size_t begin, std::size_t count) const
{
    d->checkRange(begin, count);
    std::vector<std::int64_t> out(count);
    auto lock = io::hdf5Lock();
    io::readRows(d->step.get(), d->trainingSite().child("step"), H5T_NATIVE_INT64, begin, count, out.data());
    return out;
}

std::vector<std::int64_t> RunLogReader::counts(std::size_t begin, std::size_t count) const
{
    d->checkRange(begin, count);
    const Site s = d->trainingSite().child("tokens_per_expert");
    if (!d->tpe.valid())
        s.fail("is missing; this run log records no tokens per expert");
    std::vector<std::int64_t> out(count * d->info.numLayers * d->info.numExperts);
    auto lock = io::hdf5Lock();
    io::readRows(d->tpe.get(), s, H5T_NATIVE_INT64, begin, count, out.data());
    return out;
}

std::vector<std::int64_t> RunLogReader::layerCounts(std::size_t layer, std::size_t begin, std::size_t count) const
{
    d->checkRange(begin, count);
    const Site s = d->trainingSite().child("tokens_per_expert");
    if (!d->tpe.valid())
        s.fail("is missing; this run log records no tokens per expert");
    if (layer >= d->info.numLayers)
        s.fail("has no layer " + std::to_string(layer));
    const std::size_t E = d->info.numExperts;
    std::vector<std::int64_t> out(count * E);
    if (count == 0)
        return out;
    auto lock = io::hdf5Lock();
    const Handle file(H5Dget_space(d->tpe.get()));
    const hsize_t start[3] = {begin, layer, 0}, extent[3] = {count, 1, E};
    const Handle mem(H5Screate_simple(3, extent, nullptr));
    if (!file.valid() || !mem.valid() ||
        H5Sselect_hyperslab(file.get(), H5S_SELECT_SET, start, nullptr, extent, nullptr) < 0 ||
        H5Dread(d->tpe.get(), H5T_NATIVE_INT64, mem.get(), file.get(), H5P_DEFAULT, out.data()) < 0)
        s.fail("cannot read layer " + std::to_string(layer) + " of records " + std::to_string(begin) + ".. (" +
               io::lastHdf5Message() + ")");
    return out;
}

std::vector<double> RunLogReader::series(RunLogSeries which, std::size_t begin, std::size_t count) const
{
    d->checkRange(begin, count);
    std::vector<double> out(count * d->info.numLayers, std::numeric_limits<double>::quiet_NaN());
    const Handle &h = d->series[std::size_t(which)];
    if (!h.valid())
        return out;
    auto lock = io::hdf5Lock();
    io::readRows(h.get(), d->trainingSite().child(seriesName(which)), H5T_NATIVE_DOUBLE, begin, count, out.data());
    return out;
}

bool hdf5FileOpenForWriting(const std::string &path) { return (superblockFlags(path) & 0x01) != 0; }

} // namespace moescope
