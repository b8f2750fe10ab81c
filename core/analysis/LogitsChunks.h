#pragma once
// Walks one layer's logits in bounded chunks, in position order, each in its own
// stored precision (float16 as raw halves, float32, float64): the feed of the layer
// pass and of the streaming simulations (expert choice, bias balancing).
//
// While `use` works on one chunk, a reader thread brings in the next into the other of
// two buffers, reused from chunk to chunk (RoutingDump reads float16 stored plainly
// with pread(), the rest through HDF5 behind the io lock). Throws DumpError, and
// Cancelled between chunks when `progress` says so.
#include "common/ReusedBuffer.h"
#include "io/Progress.h"
#include "io/RoutingDump.h"
#include "routing/RoutingBackend.h"

#include <functional>

namespace moescope {

// One chunk of logits in memory, read into a buffer in its stored type; `view` points
// at it. The buffer is not zeroed (every element is read into) and comes back from
// the last pass that finished (ReusedBuffer.h).
struct ChunkSlot {
    LogitsView view;

    void fill(const RoutingDump &dump, std::size_t layer, std::uint64_t begin, std::uint64_t rows);

private:
    ReusedBuffer m_buffer;
};

// Rows per chunk for a layer: about 16 MB of logits as stored.
std::uint64_t defaultChunkRows(const DumpInfo &info, std::size_t layer);
// `rows` rounded down to whole stored chunks (at least one): a read that splits a
// compressed chunk decodes all of it, so split reads decoded chunks twice or more.
std::uint64_t wholeChunks(std::uint64_t rows, std::uint64_t storedChunkRows);

void forEachLogitsChunk(const RoutingDump &dump, std::size_t layer,
                        const std::function<void(const LogitsView &chunk, std::int64_t begin)> &use,
                        const Progress &progress = {}, std::uint64_t chunkRows = 0);

} // namespace moescope
