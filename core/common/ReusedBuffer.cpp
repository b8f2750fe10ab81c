#include "common/ReusedBuffer.h"

#include "common/LargeBuffer.h"

#include <algorithm>
#include <mutex>
#include <new>
#include <utility>
#include <vector>

namespace moescope {

namespace {

// Enough for a 10 M-token layer's scratch (the vocabulary figure's narrowed rows are
// 80 MB at k = 8, the drops' per-token counts 20 MB): with less, those were mapped,
// zeroed and faulted in afresh for every layer, 2 s of a 58-layer dump. The memory
// is in use once per layer anyway, so keeping it adds nothing to the peak.
constexpr std::size_t kPoolBytes = std::size_t(192) << 20;
constexpr std::align_val_t kAlignment{64};
// From this size allocateLarge maps the block and asks for huge pages (as it does
// from 4 MB on); below, the heap is as good.
constexpr std::size_t kLargeBlockBytes = std::size_t(4) << 20;

struct Block {
    void *data;
    std::size_t bytes;
};

// Large blocks on huge pages where the system gives them: a 16 MB chunk buffer is
// then faulted in as 8 pages rather than 4096 (LargeBuffer.h). The contents of
// small ones are left as the heap has them.
Block newBlock(std::size_t bytes)
{
    bytes = std::max<std::size_t>(bytes, 1);
    if (bytes >= kLargeBlockBytes)
        return {allocateLarge(bytes), bytes};
    return {::operator new(bytes, kAlignment), bytes};
}

void freeBlock(const Block &b)
{
    if (b.bytes >= kLargeBlockBytes)
        releaseLarge(b.data, b.bytes);
    else
        ::operator delete(b.data, kAlignment);
}

// The pooled blocks, freed at exit (so leak checkers see nothing left).
struct Pool {
    std::vector<Block> blocks; // at most kPoolBytes together
    ~Pool()
    {
        for (const Block &b : blocks)
            freeBlock(b);
    }
};

std::mutex g_mutex;
Pool g_poolBlocks;
std::vector<Block> &g_pool = g_poolBlocks.blocks;
std::size_t g_pooled = 0;

// The smallest pooled block of at least `bytes`, taken out of the pool.
Block takeFromPool(std::size_t bytes)
{
    std::lock_guard lock(g_mutex);
    auto best = g_pool.end();
    for (auto it = g_pool.begin(); it != g_pool.end(); ++it)
        if (it->bytes >= bytes && (best == g_pool.end() || it->bytes < best->bytes))
            best = it;
    if (best == g_pool.end())
        return {nullptr, 0};
    const Block b = *best;
    g_pool.erase(best);
    g_pooled -= b.bytes;
    return b;
}

void giveToPool(Block b)
{
    {
        std::lock_guard lock(g_mutex);
        // Room made by freeing the smallest blocks first: the large ones are the
        // expensive ones to make again.
        while (g_pooled + b.bytes > kPoolBytes && !g_pool.empty()) {
            auto smallest = std::min_element(g_pool.begin(), g_pool.end(),
                                             [](const Block &x, const Block &y) { return x.bytes < y.bytes; });
            if (smallest->bytes >= b.bytes)
                break;
            freeBlock(*smallest);
            g_pooled -= smallest->bytes;
            g_pool.erase(smallest);
        }
        if (g_pooled + b.bytes <= kPoolBytes) {
            g_pool.push_back(b);
            g_pooled += b.bytes;
            return;
        }
    }
    freeBlock(b);
}

} // namespace

ReusedBuffer::~ReusedBuffer() { release(); }

ReusedBuffer::ReusedBuffer(ReusedBuffer &&other) noexcept
    : m_data(std::exchange(other.m_data, nullptr)), m_bytes(std::exchange(other.m_bytes, 0))
{
}

ReusedBuffer &ReusedBuffer::operator=(ReusedBuffer &&other) noexcept
{
    if (this != &other) {
        release();
        m_data = std::exchange(other.m_data, nullptr);
        m_bytes = std::exchange(other.m_bytes, 0);
    }
    return *this;
}

void *ReusedBuffer::reserve(std::size_t bytes)
{
    if (m_data && m_bytes >= bytes)
        return m_data;
    release();
    Block b = takeFromPool(bytes);
    if (!b.data)
        b = newBlock(bytes);
    m_data = b.data;
    m_bytes = b.bytes;
    return m_data;
}

void ReusedBuffer::release()
{
    if (m_data)
        giveToPool({m_data, m_bytes});
    m_data = nullptr;
    m_bytes = 0;
}

} // namespace moescope
