// Reading a routing dump's rows on request (the schema is checked on opening, in
// DumpSchema.cpp): logits in every precision, raw, read plainly or mapped halves,
// recorded choices.
#include "io/RoutingDumpImpl.h"

#include "io/Float16.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cfloat>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <type_traits>
#include <limits>

namespace moescope {

using io::Handle;
using io::Site;

namespace {

// Whether data stored in `order` reads as is on this machine.
bool hostOrder(H5T_order_t order)
{
    const std::uint16_t probe = 1;
    const bool hostLittle = *reinterpret_cast<const unsigned char *>(&probe) == 1;
    return (order == H5T_ORDER_BE) != hostLittle;
}

// Reverses the bytes of each of n values of `size` bytes.
void swapBytes(void *data, std::size_t n, std::size_t size)
{
    auto *p = static_cast<unsigned char *>(data);
    for (std::size_t i = 0; i < n; ++i, p += size)
        std::reverse(p, p + size);
}

} // namespace

bool RoutingDump::Impl::readInflated(std::size_t layer, std::uint64_t begin, std::uint64_t count, void *out) const
{
    const LayerHandles &h = layers[layer];
    if (!h.logitsChunks || !io::readCompressedRows(h.logits.get(), *h.logitsChunks, begin, count, out))
        return false;
    if (!hostOrder(h.logitsOrder))
        swapBytes(out, count * std::size_t(info.numExperts), h.logitsChunks->elementSize);
    return true;
}

std::optional<RoutingDump::Impl::PlainExtent> RoutingDump::Impl::plainLogits(std::size_t layer) const
{
    const LayerHandles &h = layers[layer];
    auto lock = io::hdf5Lock();
    // Only a plain file (the sec2 driver, HDF5's default) has a descriptor to read.
    Handle access(H5Fget_access_plist(file.get()));
    if (!access.valid() || H5Pget_driver(access.get()) != H5FD_SEC2)
        return std::nullopt;
    Handle create(H5Dget_create_plist(h.logits.get()));
    if (!create.valid() || H5Pget_layout(create.get()) != H5D_CONTIGUOUS || H5Pget_external_count(create.get()) != 0)
        return std::nullopt;
    const haddr_t offset = H5Dget_offset(h.logits.get()); // undefined while no data is written
    void *handle = nullptr;
    if (offset == HADDR_UNDEF || H5Fget_vfd_handle(file.get(), access.get(), &handle) < 0 || !handle)
        return std::nullopt;
    return PlainExtent{*static_cast<int *>(handle), std::uint64_t(offset)};
}

bool RoutingDump::Impl::readPlain(std::size_t layer, std::uint64_t begin, std::uint64_t count, std::uint64_t rowBytes,
                                  void *out) const
{
    const std::optional<PlainExtent> at = plainLogits(layer);
    if (!at)
        return false;
    // pread() moves no file position, so HDF5's own reads of the descriptor (behind
    // the io lock) are undisturbed, and this long read holds no lock.
    auto *to = static_cast<char *>(out);
    std::uint64_t done = 0;
    const std::uint64_t first = at->offset + begin * rowBytes, bytes = count * rowBytes;
    while (done < bytes) {
        const ssize_t n = ::pread(at->fd, to + done, std::size_t(bytes - done), off_t(first + done));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            layers[layer].logitsSite.fail(std::string("could not be read: ") + std::strerror(errno));
        if (n == 0) // sizes were checked on opening: the file shrank since
            layers[layer].logitsSite.fail(
                "the file was truncated while it was being read (is another program rewriting it?)");
        done += std::uint64_t(n);
    }
    return true;
}

// float16 rows as raw bits in host byte order: no HDF5 conversion (its float16 path is
// slow), only the byte order fixed. Stored plainly they are read with large pread()s
// into the caller's buffer: the copy costs less than routing from mapped page-cache
// pages, which the kernels read two to three times slower (measured on a virtual
// machine, where every newly mapped page costs the hypervisor's work too) than the
// same rows in a buffer the process reuses.
void RoutingDump::Impl::readHalves(std::size_t layer, std::uint64_t begin, std::uint64_t count,
                                   std::uint16_t *out) const
{
    const LayerHandles &h = layers[layer];
    const std::uint64_t rowBytes = std::uint64_t(info.numExperts) * 2;
    if (hostOrder(h.logitsOrder) && readPlain(layer, begin, count, rowBytes, out))
        return;
    {
        auto lock = io::hdf5Lock();
        const Handle fileType = io::typeOf(h.logits.get(), h.logitsSite);
        io::readRows(h.logits.get(), h.logitsSite, fileType.get(), begin, count, out);
    }
    if (!hostOrder(h.logitsOrder))
        swapBytes(out, count * std::size_t(info.numExperts), 2);
}

void RoutingDump::Impl::readLogitsFloat(std::size_t layer, std::uint64_t begin, std::uint64_t count,
                                        float *out) const
{
    const LayerHandles &h = layers[layer];
    const std::size_t n = count * std::size_t(info.numExperts);
    const LogitsType type = info.layers[layer].logitsType;
    if (type == LogitsType::Float16) {
        // Read the raw halves (no HDF5 conversion), convert here.
        std::vector<std::uint16_t> raw(n);
        readHalves(layer, begin, count, raw.data());
        halvesToFloats(raw.data(), out, n);
    } else if (type == LogitsType::Float32) {
        if (!readInflated(layer, begin, count, out)) {
            auto lock = io::hdf5Lock();
            io::readRows(h.logits.get(), h.logitsSite, H5T_NATIVE_FLOAT, begin, count, out);
        }
    } else {
        std::vector<double> wide(n);
        if (!readInflated(layer, begin, count, wide.data())) {
            auto lock = io::hdf5Lock();
            io::readRows(h.logits.get(), h.logitsSite, H5T_NATIVE_DOUBLE, begin, count, wide.data());
        }
        for (std::size_t i = 0; i < n; ++i) {
            const double v = wide[i];
            // Keep finite values finite so only real NaN/inf rows count as invalid.
            out[i] = std::isfinite(v) ? float(std::clamp(v, -double(FLT_MAX), double(FLT_MAX))) : float(v);
        }
    }
}

void RoutingDump::Impl::readLogitsDouble(std::size_t layer, std::uint64_t begin, std::uint64_t count,
                                         double *out) const
{
    const LayerHandles &h = layers[layer];
    if (info.layers[layer].logitsType == LogitsType::Float64) {
        if (!readInflated(layer, begin, count, out)) {
            auto lock = io::hdf5Lock();
            io::readRows(h.logits.get(), h.logitsSite, H5T_NATIVE_DOUBLE, begin, count, out);
        }
        return;
    }
    const std::size_t n = count * std::size_t(info.numExperts);
    std::vector<float> narrow(n);
    readLogitsFloat(layer, begin, count, narrow.data());
    std::copy(narrow.begin(), narrow.end(), out);
}

RoutingDump::RoutingDump(const std::string &path) : d(std::make_unique<Impl>())
{
    d->openFile(path);
    d->readSchema();
}

RoutingDump::RoutingDump(const std::string &name, FileImage image) : d(std::make_unique<Impl>())
{
    d->openImage(name, image);
    d->readSchema();
}

void RoutingDump::Impl::readSchema()
{
    auto lock = io::hdf5Lock();
    readRootAttributes();
    readTokens();
    readLayers();
    checkTraining();
    for (std::size_t l = 0; l < info.layers.size(); ++l)
        detectProbabilities(l);
}

RoutingDump::~RoutingDump()
{
    auto lock = io::hdf5Lock();
    d.reset();
}

const DumpInfo &RoutingDump::info() const { return d->info; }

namespace {
void checkRange(const DumpInfo &info, std::uint64_t begin, std::uint64_t count, const char *what)
{
    if (begin > std::uint64_t(info.numTokens) || count > std::uint64_t(info.numTokens) - begin)
        throw DumpError(info.path, what, "rows requested beyond T = " + std::to_string(info.numTokens));
}
} // namespace

std::vector<std::int64_t> RoutingDump::readTokenIds(std::uint64_t begin, std::uint64_t count) const
{
    checkRange(d->info, begin, count, "/tokens/ids");
    std::vector<std::int64_t> ids(count);
    if (!d->info.hasTokens)
        return ids; // a load-only dump without /tokens: ids are 0, there is no vocabulary
    auto lock = io::hdf5Lock();
    io::readIntegerColumn(d->idsColumn, d->idsSite, begin, count, ids.data());
    return ids;
}

std::vector<std::string> RoutingDump::readVocab() const
{
    if (!d->vocab.valid())
        return {};
    auto lock = io::hdf5Lock();
    return io::readStrings(d->vocab.get(), d->vocabSite);
}

void RoutingDump::readLogits(std::size_t layer, std::uint64_t begin, std::uint64_t count, float *out) const
{
    checkRange(d->info, begin, count, "logits");
    if (!d->info.layers.at(layer).hasLogits)
        d->layers[layer].logitsSite.fail("is missing; this layer has no logits");
    d->readLogitsFloat(layer, begin, count, out);
}

void RoutingDump::readLogits(std::size_t layer, std::uint64_t begin, std::uint64_t count, double *out) const
{
    checkRange(d->info, begin, count, "logits");
    if (!d->info.layers.at(layer).hasLogits)
        d->layers[layer].logitsSite.fail("is missing; this layer has no logits");
    d->readLogitsDouble(layer, begin, count, out);
}

void RoutingDump::readLogits(std::size_t layer, std::uint64_t begin, std::uint64_t count,
                             std::uint16_t *out) const
{
    checkRange(d->info, begin, count, "logits");
    const LayerInfo &li = d->info.layers.at(layer);
    if (!li.hasLogits)
        d->layers[layer].logitsSite.fail("is missing; this layer has no logits");
    if (li.logitsType != LogitsType::Float16)
        d->layers[layer].logitsSite.fail(std::string("holds ") + logitsTypeName(li.logitsType) +
                                         ", not float16: no raw halves to read");
    d->readHalves(layer, begin, count, out);
}

io::MappedRows RoutingDump::mapHalves(std::size_t layer, std::uint64_t begin, std::uint64_t count) const
{
    checkRange(d->info, begin, count, "logits");
    const LayerInfo &li = d->info.layers.at(layer);
    const LayerHandles &h = d->layers[layer];
    if (!li.hasLogits || li.logitsType != LogitsType::Float16 || !hostOrder(h.logitsOrder) || count == 0)
        return {};
    const std::optional<Impl::PlainExtent> at = d->plainLogits(layer);
    if (!at)
        return {};
    const int fd = at->fd;
    const std::uint64_t offset = at->offset;
    const std::uint64_t rowBytes = std::uint64_t(d->info.numExperts) * 2;
    const std::uint64_t first = std::uint64_t(offset) + begin * rowBytes, bytes = count * rowBytes;
    // A file shorter than the dataset (truncated) would fault on access: read instead,
    // and let the reader report it.
    struct stat st {};
    if (fstat(fd, &st) != 0 || std::uint64_t(st.st_size) < first + bytes)
        return {};
    return io::MappedRows::map(fd, first, std::size_t(bytes));
}

namespace {

// Widens n stored ids of type S (host byte order) to int32, checking each lies in
// [0, E); the index of the first that does not, or -1.
template <typename S>
std::int64_t widenIds(const void *raw, std::size_t n, std::int64_t E, std::int32_t *out)
{
    const S *in = static_cast<const S *>(raw);
    // One unsigned compare finds negative ids (they wrap to large values) and ids >= E
    // alike, in 32 bits for ids of up to 32: then the loop vectorises (with 64-bit
    // compares of a sign test and a bound it did not, and was 7 % of opening a dump).
    using Wide = std::conditional_t<(sizeof(S) <= 4), std::uint32_t, std::uint64_t>;
    const Wide limit = Wide(std::clamp<std::int64_t>(E, 0, std::int64_t(std::numeric_limits<std::int32_t>::max())));
    unsigned bad = 0;
    for (std::size_t i = 0; i < n; ++i) { // no early exit: the loop vectorises
        bad |= unsigned(Wide(in[i]) >= limit);
        out[i] = static_cast<std::int32_t>(in[i]);
    }
    if (!bad)
        return -1;
    for (std::size_t i = 0; i < n; ++i)
        if (static_cast<std::int64_t>(in[i]) < 0 || static_cast<std::int64_t>(in[i]) >= E)
            return std::int64_t(i);
    return -1;
}

// widenIds for ids of `width` bytes, signed or not.
std::int64_t widenIdsOf(std::size_t width, bool isSigned, const void *raw, std::size_t n, std::int64_t E,
                        std::int32_t *out)
{
    switch (width * 2 + (isSigned ? 1 : 0)) {
    case 2: return widenIds<std::uint8_t>(raw, n, E, out);
    case 3: return widenIds<std::int8_t>(raw, n, E, out);
    case 4: return widenIds<std::uint16_t>(raw, n, E, out);
    case 5: return widenIds<std::int16_t>(raw, n, E, out);
    case 8: return widenIds<std::uint32_t>(raw, n, E, out);
    case 9: return widenIds<std::int32_t>(raw, n, E, out);
    case 16: return widenIds<std::uint64_t>(raw, n, E, out);
    default: return widenIds<std::int64_t>(raw, n, E, out);
    }
}

hid_t nativeInteger(std::size_t width, bool isSigned)
{
    switch (width) {
    case 1: return isSigned ? H5T_NATIVE_INT8 : H5T_NATIVE_UINT8;
    case 2: return isSigned ? H5T_NATIVE_INT16 : H5T_NATIVE_UINT16;
    case 4: return isSigned ? H5T_NATIVE_INT32 : H5T_NATIVE_UINT32;
    default: return isSigned ? H5T_NATIVE_INT64 : H5T_NATIVE_UINT64;
    }
}

} // namespace

// The ids as stored (inflated here when the chunks allow, else read by HDF5 without
// conversion), then widened: HDF5's own integer conversion was a tenth of `stats`.
void RoutingDump::readTopkIds(std::size_t layer, std::uint64_t begin, std::uint64_t count,
                              std::int32_t *out) const
{
    checkRange(d->info, begin, count, "topk_ids");
    const LayerHandles &h = d->layers.at(layer);
    if (!d->info.layers[layer].hasTopkIds)
        h.idsSite.fail("is missing; this layer has no recorded choices");
    const std::size_t k = d->info.topK, n = count * k, width = h.idsWidth;
    const std::int64_t E = d->info.numExperts;
    // Widened chunk by chunk on the threads that inflate them, straight into `out`:
    // no buffer of the stored bytes, no pass over them on this thread alone. Ids
    // outside [0, E) are then looked for again below, through HDF5, to name the first;
    // so is everything when a chunk does not inflate (not a second time here).
    const bool widenWhileInflating = h.idsChunks && (width == 1 || hostOrder(h.idsOrder));
    if (widenWhileInflating) {
        std::atomic<bool> clean = true;
        auto widen = [&](const unsigned char *values, std::uint64_t first, std::uint64_t rows) {
            if (widenIdsOf(width, h.idsSigned, values, rows * k, E, out + (first - begin) * k) >= 0)
                clean = false;
        };
        if (io::readCompressedRows(h.topkIds.get(), *h.idsChunks, begin, count, widen) && clean)
            return;
    }
    const std::unique_ptr<unsigned char[]> bytes(new unsigned char[n * width]); // every byte is written
    unsigned char *const raw = bytes.get();
    if (h.idsChunks && !widenWhileInflating &&
        io::readCompressedRows(h.topkIds.get(), *h.idsChunks, begin, count, raw)) {
        if (width > 1 && !hostOrder(h.idsOrder))
            swapBytes(raw, n, width);
    } else {
        auto lock = io::hdf5Lock();
        io::readRows(h.topkIds.get(), h.idsSite, nativeInteger(width, h.idsSigned), begin, count, raw);
    }
    const std::int64_t bad = widenIdsOf(width, h.idsSigned, raw, n, E, out);
    if (bad >= 0) {
        const std::uint64_t row = begin + std::uint64_t(bad) / k;
        std::string value;
        const unsigned char *p = raw + std::size_t(bad) * width;
        if (h.idsSigned) {
            std::int64_t v = 0;
            switch (width) {
            case 1: v = *reinterpret_cast<const std::int8_t *>(p); break;
            case 2: v = *reinterpret_cast<const std::int16_t *>(p); break;
            case 4: v = *reinterpret_cast<const std::int32_t *>(p); break;
            default: v = *reinterpret_cast<const std::int64_t *>(p); break;
            }
            value = std::to_string(v);
        } else {
            std::uint64_t v = 0;
            switch (width) {
            case 1: v = *p; break;
            case 2: v = *reinterpret_cast<const std::uint16_t *>(p); break;
            case 4: v = *reinterpret_cast<const std::uint32_t *>(p); break;
            default: v = *reinterpret_cast<const std::uint64_t *>(p); break;
            }
            value = std::to_string(v);
        }
        h.idsSite.fail("expert id " + value + " at row " + std::to_string(row) + " is outside [0, " +
                       std::to_string(E) + ")");
    }
}

void RoutingDump::readTopkWeights(std::size_t layer, std::uint64_t begin, std::uint64_t count,
                                  float *out) const
{
    checkRange(d->info, begin, count, "topk_weights");
    const LayerHandles &h = d->layers.at(layer);
    if (!d->info.layers[layer].hasTopkWeights)
        h.weightsSite.fail("is missing; this layer has no recorded gate weights");
    auto lock = io::hdf5Lock();
    io::readRows(h.topkWeights.get(), h.weightsSite, H5T_NATIVE_FLOAT, begin, count, out);
}

TrainingSeries RoutingDump::readTraining() const
{
    TrainingSeries series;
    if (!d->info.hasTraining)
        return series;
    auto lock = io::hdf5Lock();
    const Site site = d->root().child("training");
    const hid_t g = d->training.get();
    series.numLayers = d->info.layers.size();
    series.numExperts = std::size_t(d->info.numExperts);
    Handle steps = io::openMember(g, site, "step", H5I_DATASET);
    series.steps = io::readAllIntegers(steps.get(), site.child("step"));
    if (Handle ds = io::openMember(g, site, "lb_loss", H5I_DATASET); ds.valid())
        series.lbLoss = io::readAllDoubles(ds.get(), site.child("lb_loss"));
    if (Handle ds = io::openMember(g, site, "z_loss", H5I_DATASET); ds.valid())
        series.zLoss = io::readAllDoubles(ds.get(), site.child("z_loss"));
    if (Handle ds = io::openMember(g, site, "tokens_per_expert", H5I_DATASET); ds.valid())
        series.tokensPerExpert = io::readAllIntegers(ds.get(), site.child("tokens_per_expert"));
    return series;
}

std::string tokenText(const std::vector<std::string> &vocab, std::int64_t id)
{
    if (id >= 0 && std::size_t(id) < vocab.size())
        return vocab[std::size_t(id)];
    return "#" + std::to_string(id);
}

RoutingRules DumpInfo::routingRules(std::size_t layer) const
{
    RoutingRules rules;
    rules.scoring = scoring;
    rules.topK = topK;
    rules.normalizeTopK = normalizeTopK;
    rules.routedScalingFactor = routedScalingFactor;
    rules.numGroups = numGroups;
    rules.topKGroups = topKGroups;
    rules.expertBias = layers.at(layer).expertBias;
    rules.inputsAreProbabilities = layers.at(layer).logitsAreProbabilities;
    return rules;
}

} // namespace moescope
