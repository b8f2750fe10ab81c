#include "analysis/LogitsChunks.h"

#include "io/DumpError.h"

#include <algorithm>
#include <future>

namespace moescope {

void ChunkSlot::fill(const RoutingDump &dump, std::size_t layer, std::uint64_t begin, std::uint64_t rows)
{
    const int E = dump.info().numExperts;
    const LogitsType type = dump.info().layers.at(layer).logitsType;
    const std::size_t n = rows * std::size_t(E);
    view.rows = rows;
    view.numExperts = E;
    view.type = type;
    if (type == LogitsType::Float16) {
        mapped = dump.mapHalves(layer, begin, rows);
        if (!mapped.empty()) {
            view.data = mapped.data();
            return;
        }
        halves.resize(n);
        dump.readLogits(layer, begin, rows, halves.data());
        view.data = halves.data();
    } else if (type == LogitsType::Float64) {
        doubles.resize(n);
        dump.readLogits(layer, begin, rows, doubles.data());
        view.data = doubles.data();
    } else {
        floats.resize(n);
        dump.readLogits(layer, begin, rows, floats.data());
        view.data = floats.data();
    }
}

std::uint64_t defaultChunkRows(const DumpInfo &info, std::size_t layer)
{
    // Large enough that the hand-overs between reader and user cost little, small
    // enough to keep memory bounded.
    const std::uint64_t bytes = logitsTypeBytes(info.layers.at(layer).logitsType);
    return wholeChunks(std::max<std::uint64_t>(1, (16u << 20) / (std::uint64_t(info.numExperts) * bytes)),
                       info.layers.at(layer).logitsChunkRows);
}

std::uint64_t wholeChunks(std::uint64_t rows, std::uint64_t storedChunkRows)
{
    if (storedChunkRows == 0)
        return rows;
    return std::max(storedChunkRows, rows / storedChunkRows * storedChunkRows);
}

void forEachLogitsChunk(const RoutingDump &dump, std::size_t layer,
                        const std::function<void(const LogitsView &, std::int64_t)> &use, const Progress &progress,
                        std::uint64_t chunkRows)
{
    const std::uint64_t T = std::uint64_t(dump.info().numTokens);
    if (chunkRows == 0)
        chunkRows = defaultChunkRows(dump.info(), layer);
    ChunkSlot slots[2];
    // Declared after the slots: should `use` throw, the pending read finishes before
    // the slots go.
    std::future<void> next;
    if (T > 0) {
        progress.checkCancelled();
        slots[0].fill(dump, layer, 0, std::min(chunkRows, T));
    }
    int current = 0;
    for (std::uint64_t begin = 0; begin < T; begin += chunkRows, current ^= 1) {
        progress.checkCancelled();
        const std::uint64_t rows = std::min(chunkRows, T - begin);
        if (begin + rows < T) {
            ChunkSlot &slot = slots[current ^ 1];
            const std::uint64_t at = begin + rows, count = std::min(chunkRows, T - at);
            next = std::async(std::launch::async, [&slot, &dump, layer, at, count] { slot.fill(dump, layer, at, count); });
        }
        use(slots[current].view, std::int64_t(begin));
        if (slots[current].mapped.lost()) // what `use` saw was zeros, not the file
            throw DumpError(dump.info().path, "/layers/" + dump.info().layers.at(layer).name + "/logits",
                            "the file was truncated while it was being read (is another program rewriting it?)");
        if (next.valid())
            next.get(); // the next chunk is in (or its read failed: rethrown here)
        progress.report(double(begin + rows) / double(T));
    }
}

} // namespace moescope
