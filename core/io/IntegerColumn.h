#pragma once
// A 1-D integer dataset (/tokens/ids) read as int64. When it is chunked with deflate
// and/or shuffle, its chunks are inflated on every core (CompressedChunks) and widened
// here; otherwise HDF5 reads and converts it. At 10 M tokens HDF5's own one-thread
// zlib took about half a second per read of the ids, and an open reads them twice (the
// schema check's vocabulary scan, then the reader), in the preflight and again in the
// program. Callers hold hdf5Lock().
#include "io/CompressedChunks.h"
#include "io/Hdf5Objects.h"

#include <cstdint>
#include <optional>

namespace moescope::io {

struct IntegerColumn {
    hid_t dataset = -1;                 // not owned
    std::optional<ChunkLayout> chunks;  // set when the chunks can be inflated here
    std::size_t width = 8;              // bytes per value as stored
    bool isSigned = true;
    H5T_order_t order = H5T_ORDER_LE;
};

// How `dataset` (a 1-D integer dataset, already checked) is stored.
IntegerColumn integerColumn(hid_t dataset, const Site &site);

// Values [begin, begin + count) into `out`. Throws DumpError as readRows does.
void readIntegerColumn(const IntegerColumn &column, const Site &site, std::uint64_t begin, std::uint64_t count,
                       std::int64_t *out);

} // namespace moescope::io
