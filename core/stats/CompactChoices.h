#pragma once
// A layer's choices held small: each expert id in 8 bits when E <= 256 (DeepSeek-V3,
// Qwen3-MoE), in 16 bits when E <= 65536, a quarter or a half of LayerChoices' 32. The
// window keeps layers this way once they no longer fit its memory budget as they are
// (analysis/LayerStore.h): at a million tokens all 58 layers of a DeepSeek-V3 dump
// then stay in memory (0.5 GB rather than 1.9 GB), and a view or the token search reads
// rows from them instead of inflating the layer from the dump again.
#include "stats/LayerChoices.h"

#include <cstdint>

namespace moescope {

struct CompactChoices {
    int numExperts = 0;
    int topK = 0;
    int idBytes = 0;                // 1 or 2: the width of each id in `ids`
    LargeVector<std::uint8_t> ids;  // [T * k] ids of idBytes each, in this machine's byte order
    LargeVector<std::uint8_t> valid; // [T], as LayerChoices::valid

    std::int64_t numPositions() const { return std::int64_t(valid.size()); }
    std::size_t bytes() const { return ids.size() + valid.size(); }
    // Choice i of token t.
    std::int32_t id(std::int64_t t, int i) const
    {
        const std::size_t at = std::size_t(t) * std::size_t(topK) + std::size_t(i);
        return idBytes == 1 ? std::int32_t(ids[at]) : std::int32_t(rowsAs<std::uint16_t>()[at]);
    }
    // Rows [from, from + n) widened into out[n * k].
    void widenRows(std::int64_t from, std::int64_t n, std::int32_t *out) const;
    // The narrow rows themselves: `Id` must be 8 bits when idBytes is 1, 16 when 2.
    template <typename Id>
    const Id *rowsAs() const
    {
        return reinterpret_cast<const Id *>(ids.data());
    }
};

// ids[0, n) narrowed to Id (every id must fit it): one sequential pass the compiler
// vectorises; `n` is a plain count so that the stores cannot alias the bound.
template <typename Id>
void narrowIds(const std::int32_t *ids, std::size_t n, Id *out)
{
    for (std::size_t i = 0; i < n; ++i)
        out[i] = Id(ids[i]);
}

// The id width choices among `numExperts` experts are held in: 1, 2, or 0 above 65536.
int compactIdBytes(int numExperts);
// The id width `c` can be held in: 1, 2, or 0 when it cannot be made compact (more
// than 65536 experts, or gate probabilities that would be lost).
int compactIdBytes(const LayerChoices &c);
// `c` held small; compactIdBytes(c) must not be 0.
CompactChoices compactChoices(const LayerChoices &c);
// Back to 32-bit ids (no gate probabilities: compact choices have none).
LayerChoices widenChoices(const CompactChoices &c);

} // namespace moescope
