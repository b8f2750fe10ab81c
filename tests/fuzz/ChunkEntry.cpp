// The compressed-chunk target: our own inflate + unshuffle of one chunk, with a
// layout the input chooses, checked against a plain unshuffle where only shuffle runs.
#include "FuzzEntries.h"

#include "io/CompressedChunks.h"

#include <cstdlib>
#include <vector>

namespace moescope::fuzz {

int compressedChunk(const std::uint8_t *data, std::size_t size)
{
    constexpr std::size_t kHeader = 8;
    if (size < kHeader)
        return 0;
    io::ChunkLayout layout;
    layout.elementSize = 1 + data[0] % 8;
    layout.chunkRows = 1 + data[1] % 64;
    layout.chunkColumns = 1 + data[2] % 64;
    layout.rows = layout.chunkRows * (1 + data[3] % 4);
    layout.columns = layout.chunkColumns;
    const int filters = 1 + data[4] % 3;
    for (int i = 0; i < filters; ++i)
        layout.filters.push_back((data[5] >> i) & 1 ? H5Z_FILTER_SHUFFLE : H5Z_FILTER_DEFLATE);
    const std::uint32_t skipped = data[6] & ((1u << filters) - 1);
    std::vector<unsigned char> out;
    const unsigned char *raw = data + kHeader;
    const std::size_t rawSize = size - kHeader;
    if (!io::decodeChunk(layout, skipped, raw, rawSize, out))
        return 0;
    if (out.size() != layout.chunkBytes())
        std::abort(); // a "decoded" chunk must be whole
    // Shuffle alone is a permutation: check it against the definition.
    bool onlyShuffle = true;
    int shuffles = 0;
    for (int i = 0; i < filters; ++i)
        if (!(skipped & (1u << i))) {
            onlyShuffle = onlyShuffle && layout.filters[std::size_t(i)] == H5Z_FILTER_SHUFFLE;
            ++shuffles;
        }
    if (onlyShuffle && shuffles == 1) {
        const std::size_t s = layout.elementSize, n = rawSize / s;
        for (std::size_t e = 0; e < n; ++e)
            for (std::size_t b = 0; b < s; ++b)
                if (out[e * s + b] != raw[b * n + e])
                    std::abort();
    }
    return 0;
}

} // namespace moescope::fuzz
