#include "analysis/LogitsChunks.h"

#include <algorithm>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <thread>

namespace moescope {

void ChunkSlot::fill(const RoutingDump &dump, std::size_t layer, std::uint64_t begin, std::uint64_t rows)
{
    const int E = dump.info().numExperts;
    const LogitsType type = dump.info().layers.at(layer).logitsType;
    const std::size_t n = rows * std::size_t(E);
    view.rows = rows;
    view.numExperts = E;
    view.type = type;
    void *data = m_buffer.reserve(n * logitsTypeBytes(type));
    if (type == LogitsType::Float16)
        dump.readLogits(layer, begin, rows, static_cast<std::uint16_t *>(data));
    else if (type == LogitsType::Float64)
        dump.readLogits(layer, begin, rows, static_cast<double *>(data));
    else
        dump.readLogits(layer, begin, rows, static_cast<float *>(data));
    view.data = data;
}

std::uint64_t defaultChunkRows(const DumpInfo &info, std::size_t layer)
{
    // Large enough that the hand-overs between reader and user cost little, small
    // enough to keep memory bounded. (2 MB chunks cost about the same; the size also
    // sets how the backends group their sums, so changing it changes the last digits
    // of P[e] and the z-loss.)
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

namespace {

// Reads a layer's chunks in order on one thread of its own, each into the free one of
// two slots, one chunk ahead of the user: one thread for the layer rather than one
// started for every chunk, and the slots' buffers kept from chunk to chunk.
class ChunkReader {
public:
    ChunkReader(const RoutingDump &dump, std::size_t layer, std::uint64_t rows, std::uint64_t chunkRows)
        : m_dump(dump), m_layer(layer), m_rows(rows), m_chunkRows(chunkRows), m_thread([this] { run(); })
    {
    }
    // Stops after the read in progress (the user may leave early, by an exception).
    ~ChunkReader()
    {
        {
            std::lock_guard lock(m_mutex);
            m_stop = true;
        }
        m_changed.notify_all();
        m_thread.join();
    }
    ChunkReader(const ChunkReader &) = delete;
    ChunkReader &operator=(const ChunkReader &) = delete;

    // Chunk `index` once it is read; rethrows the error of its read. Valid until
    // release(index).
    const ChunkSlot &wait(std::size_t index)
    {
        std::unique_lock lock(m_mutex);
        m_changed.wait(lock, [&] { return m_read > index; });
        if (m_error[index % 2])
            std::rethrow_exception(m_error[index % 2]);
        return m_slots[index % 2];
    }

    void release(std::size_t index)
    {
        {
            std::lock_guard lock(m_mutex);
            m_released = index + 1;
        }
        m_changed.notify_all();
    }

private:
    void run()
    {
        for (std::size_t index = 0; std::uint64_t(index) * m_chunkRows < m_rows; ++index) {
            {
                std::unique_lock lock(m_mutex);
                m_changed.wait(lock, [&] { return m_stop || index < m_released + 2; }); // its slot is free
                if (m_stop)
                    return;
            }
            const std::uint64_t begin = std::uint64_t(index) * m_chunkRows;
            std::exception_ptr error;
            try {
                m_slots[index % 2].fill(m_dump, m_layer, begin, std::min(m_chunkRows, m_rows - begin));
            } catch (...) {
                error = std::current_exception();
            }
            {
                std::lock_guard lock(m_mutex);
                m_error[index % 2] = error;
                m_read = index + 1;
            }
            m_changed.notify_all();
            if (error)
                return;
        }
    }

    const RoutingDump &m_dump;
    const std::size_t m_layer;
    const std::uint64_t m_rows, m_chunkRows;
    ChunkSlot m_slots[2];
    std::exception_ptr m_error[2];
    std::mutex m_mutex;
    std::condition_variable m_changed;
    std::size_t m_read = 0, m_released = 0; // chunks read, and given back by the user
    bool m_stop = false;
    std::thread m_thread; // last: starts once everything above exists
};

} // namespace

void forEachLogitsChunk(const RoutingDump &dump, std::size_t layer,
                        const std::function<void(const LogitsView &, std::int64_t)> &use, const Progress &progress,
                        std::uint64_t chunkRows)
{
    const std::uint64_t T = std::uint64_t(dump.info().numTokens);
    if (chunkRows == 0)
        chunkRows = defaultChunkRows(dump.info(), layer);
    if (T == 0)
        return;
    progress.checkCancelled();
    ChunkReader reader(dump, layer, T, chunkRows);
    std::size_t index = 0;
    for (std::uint64_t begin = 0; begin < T; begin += chunkRows, ++index) {
        progress.checkCancelled();
        const std::uint64_t rows = std::min(chunkRows, T - begin);
        use(reader.wait(index).view, std::int64_t(begin)); // the next chunk is read meanwhile
        reader.release(index);
        progress.report(double(begin + rows) / double(T));
    }
}

} // namespace moescope
