#pragma once
// Walks one layer's logits in bounded chunks, in position order, each in its own
// stored precision (float16 as raw halves, float32, float64): the feed of the layer
// pass and of the streaming simulations (expert choice, bias balancing).
//
// While `use` works on one chunk, a reader thread brings in the next (HDF5 behind the
// io lock, in RoutingDump); float16 stored plainly is mapped in place instead of
// copied, the reader taking the page faults. Throws DumpError, and Cancelled between
// chunks when `progress` says so.
#include "io/Progress.h"
#include "io/RoutingDump.h"
#include "routing/RoutingBackend.h"

#include <functional>

namespace moescope {

// One chunk of logits in memory: mapped from the file, or read into the buffer of its
// stored type; `view` points at whichever holds it.
struct ChunkSlot {
    io::MappedRows mapped;
    std::vector<std::uint16_t> halves;
    std::vector<float> floats;
    std::vector<double> doubles;
    LogitsView view;

    void fill(const RoutingDump &dump, std::size_t layer, std::uint64_t begin, std::uint64_t rows);
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
