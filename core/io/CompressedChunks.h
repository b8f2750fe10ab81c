#pragma once
// Rows of a compressed, chunked 2-D (or 1-D: one column) dataset read past HDF5's filter pipeline: the raw
// chunks are fetched under the HDF5 lock (file reads only), then inflated and
// unshuffled on all cores outside it. HDF5 itself decompresses under its global lock,
// one chunk after another, which made routing a gzip dump ten times slower than a
// plain one. Only deflate and shuffle are undone here; any other filter, or anything
// unexpected in a chunk, leaves the read to HDF5, which also reports what is wrong.
#include "io/Hdf5Door.h"

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace moescope::io {

struct ChunkLayout {
    hsize_t rows = 0, columns = 0;            // the dataset's extent
    hsize_t chunkRows = 0, chunkColumns = 0;
    std::size_t elementSize = 0;              // bytes per value as stored
    std::vector<H5Z_filter_t> filters;        // the pipeline in writing order

    std::size_t chunkBytes() const { return std::size_t(chunkRows * chunkColumns) * elementSize; }
};

// The layout when `dataset` qualifies: rank 2 (or 1, as one column), chunked, deflate and/or shuffle and
// nothing else, chunks of at most 64 MB. Call under hdf5Lock().
std::optional<ChunkLayout> compressedLayout(hid_t dataset);

// Rows per chunk of a chunked dataset; 0 when it is not chunked. Call under hdf5Lock().
hsize_t chunkRowsOf(hid_t dataset);

// How `dataset` is stored, for `info`: "contiguous", or "chunks of 8192 x 64, gzip +
// shuffle, inflated on every core" when `inflatedHere` (the reader decodes it), else
// "..., decoded by HDF5". Call under hdf5Lock().
std::string storageSummary(hid_t dataset, bool inflatedHere);

// Undoes `layout`'s filters on one chunk as stored (`raw`, `size` bytes; `skipped` is
// HDF5's filter mask: bit i set = filter i was not applied). True, with `out` holding
// exactly chunkBytes() bytes, when it decodes to a whole chunk; false otherwise. The
// reader runs this on every chunk it inflates; the fuzz target calls it directly.
bool decodeChunk(const ChunkLayout &layout, std::uint32_t skipped, const unsigned char *raw, std::size_t size,
                 std::vector<unsigned char> &out);

// Rows [begin, begin + count) with their bytes as stored (the file's byte order) into
// `out`, row-major. Takes the HDF5 lock for the raw reads only. False, with `out` in
// an unspecified state, when a chunk was never written (HDF5 fills it) or does not
// decode: the caller then reads through HDF5. Raw chunks are fetched and decoded in
// batches of about `batchBytes`, so memory stays bounded whatever the chunks' shape.
inline constexpr std::size_t kChunkBatchBytes = std::size_t(32) << 20;
bool readCompressedRows(hid_t dataset, const ChunkLayout &layout, std::uint64_t begin, std::uint64_t count,
                        void *out, std::size_t batchBytes = kChunkBatchBytes);

// The same rows handed over chunk by chunk, as they are decoded, instead of copied
// into one buffer: use(values, first, rows) gets rows [first, first + rows) as stored,
// row-major, on one of the decoding threads (so a conversion the caller needs runs
// on every core too), the chunks in no particular order. Only for chunks of whole
// rows (chunkColumns == columns); false otherwise, and as above.
using RowsReady = std::function<void(const unsigned char *values, std::uint64_t first, std::uint64_t rows)>;
bool readCompressedRows(hid_t dataset, const ChunkLayout &layout, std::uint64_t begin, std::uint64_t count,
                        const RowsReady &use, std::size_t batchBytes = kChunkBatchBytes);

} // namespace moescope::io
