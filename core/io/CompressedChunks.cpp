#include "io/CompressedChunks.h"

#include <libdeflate.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <future>
#include <memory>
#include <thread>

namespace moescope::io {

namespace {

constexpr std::size_t kMaxChunkBytes = std::size_t(64) << 20;

// A buffer whose bytes are not zeroed on growth: every byte is written before it is read.
struct Bytes {
    std::unique_ptr<unsigned char[]> data;
    std::size_t size = 0, capacity = 0;
    void resize(std::size_t n)
    {
        if (n > capacity) {
            data.reset(new unsigned char[n]);
            capacity = n;
        }
        size = n;
    }
};

// One chunk as read from the file, before its filters are undone.
struct RawChunk {
    hsize_t row = 0, column = 0; // its first row and column
    std::uint32_t skipped = 0;   // HDF5's filter mask: bit i set = filter i not applied
    Bytes bytes;                 // as stored, then decoded in place
};


// Undoes the shuffle filter, which had stored byte b of every value together.
template <std::size_t Size>
void unshuffleValues(const unsigned char *in, unsigned char *out, std::size_t n)
{
    for (std::size_t e = 0; e < n; ++e)
        for (std::size_t b = 0; b < Size; ++b) // unrolled: a gather the compiler vectorises
            out[e * Size + b] = in[b * n + e];
}

void unshuffle(const Bytes &in, Bytes &out, std::size_t size)
{
    out.resize(in.size);
    const std::size_t n = in.size / size;
    switch (size) {
    case 2: unshuffleValues<2>(in.data.get(), out.data.get(), n); break;
    case 4: unshuffleValues<4>(in.data.get(), out.data.get(), n); break;
    case 8: unshuffleValues<8>(in.data.get(), out.data.get(), n); break;
    default:
        for (std::size_t b = 0; b < size; ++b)
            for (std::size_t e = 0; e < n; ++e)
                out.data[e * size + b] = in.data[b * n + e];
    }
    // Bytes beyond whole values were left in place.
    if (in.size > n * size)
        std::memcpy(out.data.get() + n * size, in.data.get() + n * size, in.size - n * size);
}

// The chunk's values as stored, or false when it does not decode to a whole chunk.
// `a` holds the raw chunk on entry and the values on success; `b` is scratch.
bool decode(const ChunkLayout &layout, std::uint32_t skipped, Bytes &a, Bytes &b, libdeflate_decompressor *inflater)
{
    for (std::size_t i = layout.filters.size(); i-- > 0;) {
        if (skipped & (1u << i))
            continue;
        if (layout.filters[i] == H5Z_FILTER_DEFLATE) {
            // HDF5's deflate filter writes zlib streams; libdeflate inflates them about
            // twice as fast as zlib itself.
            b.resize(layout.chunkBytes());
            std::size_t length = 0;
            if (libdeflate_zlib_decompress(inflater, a.data.get(), a.size, b.data.get(), b.size, &length) !=
                LIBDEFLATE_SUCCESS)
                return false;
            b.size = length;
        } else {
            unshuffle(a, b, layout.elementSize);
        }
        std::swap(a, b);
    }
    return a.size == layout.chunkBytes();
}

// Copies the part of a decoded chunk that lies in rows [begin, begin + count).
void copyRows(const ChunkLayout &layout, const RawChunk &chunk, const unsigned char *values, std::uint64_t begin,
           std::uint64_t count, void *out)
{
    const std::size_t s = layout.elementSize;
    const hsize_t first = std::max<hsize_t>(begin, chunk.row);
    const hsize_t last = std::min<hsize_t>({begin + count, chunk.row + layout.chunkRows, layout.rows});
    const std::size_t width = std::size_t(std::min(layout.chunkColumns, layout.columns - chunk.column)) * s;
    for (hsize_t r = first; r < last; ++r)
        std::memcpy(static_cast<unsigned char *>(out) + ((r - begin) * layout.columns + chunk.column) * s,
                    values + std::size_t(r - chunk.row) * std::size_t(layout.chunkColumns) * s, width);
}

} // namespace

hsize_t chunkRowsOf(hid_t dataset)
{
    Handle create(H5Dget_create_plist(dataset));
    Handle space(H5Dget_space(dataset));
    if (!create.valid() || !space.valid() || H5Pget_layout(create.get()) != H5D_CHUNKED)
        return 0;
    const int rank = H5Sget_simple_extent_ndims(space.get());
    if (rank < 1 || rank > 8)
        return 0;
    hsize_t chunk[8] = {};
    return H5Pget_chunk(create.get(), rank, chunk) == rank ? chunk[0] : 0;
}

std::optional<ChunkLayout> compressedLayout(hid_t dataset)
{
    Handle create(H5Dget_create_plist(dataset));
    Handle space(H5Dget_space(dataset));
    Handle type(H5Dget_type(dataset));
    if (!create.valid() || !space.valid() || !type.valid() || H5Pget_layout(create.get()) != H5D_CHUNKED)
        return std::nullopt;
    const int rank = H5Sget_simple_extent_ndims(space.get());
    if (rank != 1 && rank != 2)
        return std::nullopt;
    ChunkLayout layout;
    hsize_t dims[2] = {0, 1}, chunk[2] = {0, 1}; // a 1-D dataset is one column
    if (H5Sget_simple_extent_dims(space.get(), dims, nullptr) != rank || H5Pget_chunk(create.get(), rank, chunk) != rank)
        return std::nullopt;
    layout.rows = dims[0];
    layout.columns = dims[1];
    layout.chunkRows = chunk[0];
    layout.chunkColumns = chunk[1];
    layout.elementSize = H5Tget_size(type.get());
    // Edge chunks stored unfiltered still report every filter as applied: HDF5 only
    // knows from this option, so such datasets stay with it.
    unsigned options = 0;
    if (H5Pget_chunk_opts(create.get(), &options) < 0 || (options & H5D_CHUNK_DONT_FILTER_PARTIAL_CHUNKS))
        return std::nullopt;
    const int filters = H5Pget_nfilters(create.get());
    if (filters < 1 || layout.elementSize == 0 || layout.chunkRows == 0 || layout.chunkColumns == 0 ||
        layout.chunkBytes() > kMaxChunkBytes)
        return std::nullopt;
    for (int i = 0; i < filters; ++i) {
        unsigned flags = 0, config = 0;
        std::size_t values = 0;
        const H5Z_filter_t id =
            H5Pget_filter2(create.get(), unsigned(i), &flags, &values, nullptr, 0, nullptr, &config);
        if (id != H5Z_FILTER_DEFLATE && id != H5Z_FILTER_SHUFFLE)
            return std::nullopt;
        layout.filters.push_back(id);
    }
    return layout;
}

namespace {

// Decodes `chunks` on up to `workers` threads and hands each to place(chunk, values);
// false when one does not decode or the work cannot run (no thread, no memory): the
// caller asks HDF5 instead.
template <typename Place>
bool decodeAll(const ChunkLayout &layout, std::vector<RawChunk> &chunks, std::size_t workers, const Place &place)
{
    std::atomic<bool> ok = true;
    auto work = [&](std::size_t w) noexcept {
        try {
            Bytes spare;
            const std::unique_ptr<libdeflate_decompressor, void (*)(libdeflate_decompressor *)> inflater(
                libdeflate_alloc_decompressor(), libdeflate_free_decompressor);
            if (!inflater)
                ok = false;
            for (std::size_t i = w; i < chunks.size() && ok; i += workers) {
                RawChunk &c = chunks[i];
                if (!decode(layout, c.skipped, c.bytes, spare, inflater.get())) {
                    ok = false;
                    return;
                }
                place(c, c.bytes.data.get());
                c.bytes = {}; // its memory goes back as soon as it is placed
            }
        } catch (...) { // bad_alloc: let HDF5 try with less
            ok = false;
        }
    };
    std::vector<std::future<void>> others;
    for (std::size_t w = 1; w < workers; ++w) {
        try {
            others.push_back(std::async(std::launch::async, work, w));
        } catch (...) { // no thread to be had: this one does that share too
            work(w);
        }
    }
    work(0);
    for (auto &f : others)
        f.get();
    return ok;
}

} // namespace

bool decodeChunk(const ChunkLayout &layout, std::uint32_t skipped, const unsigned char *raw, std::size_t size,
                 std::vector<unsigned char> &out)
{
    if (size == 0 || layout.elementSize == 0 || layout.chunkBytes() > kMaxChunkBytes)
        return false; // an empty chunk was never written (the reader leaves those to HDF5)
    const std::unique_ptr<libdeflate_decompressor, void (*)(libdeflate_decompressor *)> inflater(
        libdeflate_alloc_decompressor(), libdeflate_free_decompressor);
    if (!inflater)
        return false;
    Bytes a, b;
    a.resize(size);
    std::memcpy(a.data.get(), raw, size);
    if (!decode(layout, skipped, a, b, inflater.get()))
        return false;
    out.assign(a.data.get(), a.data.get() + a.size);
    return true;
}

std::string storageSummary(hid_t dataset, bool inflatedHere)
{
    Handle create(H5Dget_create_plist(dataset));
    if (!create.valid())
        return "unknown";
    switch (H5Pget_layout(create.get())) {
    case H5D_CONTIGUOUS: return "contiguous";
    case H5D_COMPACT: return "compact";
    case H5D_CHUNKED: break;
    default: return "unknown";
    }
    hsize_t chunk[H5S_MAX_RANK] = {};
    const int rank = H5Pget_chunk(create.get(), H5S_MAX_RANK, chunk);
    if (rank < 1)
        return "chunked";
    std::string out = "chunks of ";
    for (int i = 0; i < rank; ++i)
        out += (i ? " x " : "") + std::to_string(chunk[i]);
    const int filters = H5Pget_nfilters(create.get()); // none when unreadable: the reads report that
    std::string names;
    for (int i = 0; i < filters; ++i) {
        unsigned flags = 0, config = 0;
        std::size_t values = 0;
        const H5Z_filter_t id = H5Pget_filter2(create.get(), unsigned(i), &flags, &values, nullptr, 0, nullptr, &config);
        const std::string name = id == H5Z_FILTER_DEFLATE       ? "gzip"
                                 : id == H5Z_FILTER_SHUFFLE     ? "shuffle"
                                 : id == H5Z_FILTER_FLETCHER32  ? "fletcher32"
                                 : id == H5Z_FILTER_SZIP        ? "szip"
                                 : id == H5Z_FILTER_NBIT        ? "nbit"
                                 : id == H5Z_FILTER_SCALEOFFSET ? "scale-offset"
                                                                : "filter " + std::to_string(id);
        names += (names.empty() ? "" : " + ") + name;
    }
    if (!names.empty())
        out += ", " + names + (inflatedHere ? ", inflated on every core" : ", decoded by HDF5");
    return out;
}

namespace {

// The chunks holding rows [begin, begin + count), fetched batch by batch and decoded,
// each handed to place(chunk, values) on a decoding thread.
template <typename Place>
bool forEachChunk(hid_t dataset, const ChunkLayout &layout, std::uint64_t begin, std::uint64_t count,
                  std::size_t batchBytes, const Place &place)
{
    if (count == 0)
        return true;
    if (begin + count > layout.rows)
        return false;
    const std::size_t workers = std::max(1u, std::thread::hardware_concurrency());
    // The chunks that hold the rows, row band by row band, in batches of bounded size.
    hsize_t row = begin / layout.chunkRows * layout.chunkRows, column = 0;
    while (row < begin + count) {
        std::vector<RawChunk> batch;
        std::size_t held = 0;
        try {
            auto lock = hdf5Lock();
            while (row < begin + count && (batch.empty() || held + layout.chunkBytes() <= batchBytes)) {
                RawChunk c;
                c.row = row;
                c.column = column;
                const hsize_t at[2] = {row, column};
                hsize_t stored = 0;
                if (H5Dget_chunk_storage_size(dataset, at, &stored) < 0 || stored == 0)
                    return false; // never written: HDF5 knows the fill value
                // The stored size is the file's word: deflate never grows a chunk by
                // more than a few bytes per 16 KB, so a larger claim is damage, which
                // HDF5's own read then reports.
                if (stored > layout.chunkBytes() + layout.chunkBytes() / 8 + 4096)
                    return false;
                c.bytes.resize(std::size_t(stored));
                if (H5Dread_chunk(dataset, H5P_DEFAULT, at, &c.skipped, c.bytes.data.get()) < 0)
                    return false;
                held += std::max<std::size_t>(std::size_t(stored), layout.chunkBytes());
                batch.push_back(std::move(c));
                column += layout.chunkColumns;
                if (column >= layout.columns) {
                    column = 0;
                    row += layout.chunkRows;
                }
            }
        } catch (const std::bad_alloc &) {
            return false;
        }
        if (!decodeAll(layout, batch, std::min(workers, batch.size()), place))
            return false;
    }
    return true;
}

} // namespace

bool readCompressedRows(hid_t dataset, const ChunkLayout &layout, std::uint64_t begin, std::uint64_t count,
                        void *out, std::size_t batchBytes)
{
    return forEachChunk(dataset, layout, begin, count, batchBytes, [&](const RawChunk &c, const unsigned char *values) {
        copyRows(layout, c, values, begin, count, out);
    });
}

bool readCompressedRows(hid_t dataset, const ChunkLayout &layout, std::uint64_t begin, std::uint64_t count,
                        const RowsReady &use, std::size_t batchBytes)
{
    if (layout.chunkColumns != layout.columns)
        return false; // a chunk's rows are not whole rows of the dataset
    return forEachChunk(dataset, layout, begin, count, batchBytes, [&](const RawChunk &c, const unsigned char *values) {
        const std::uint64_t first = std::max<std::uint64_t>(begin, c.row);
        const std::uint64_t last = std::min<std::uint64_t>({begin + count, c.row + layout.chunkRows, layout.rows});
        if (first < last)
            use(values + std::size_t(first - c.row) * std::size_t(layout.columns) * layout.elementSize, first,
                last - first);
    });
}

} // namespace moescope::io
