#include "stats/TokenPositions.h"

#include <algorithm>
#include <numeric>

namespace moescope {

namespace {
// Ids within [0, T + this) are counted into a table indexed by id; a wider or
// negative range is sorted instead, so a stray huge id cannot ask for a huge table.
constexpr std::int64_t kDenseSlack = 1 << 20;
} // namespace

TokenPositions::TokenPositions(std::span<const std::int64_t> tokenIds)
{
    const std::size_t T = tokenIds.size();
    m_positions.resize(T);
    if (T == 0) {
        m_offsets.assign(1, 0);
        return;
    }
    const auto [lowest, highest] = std::minmax_element(tokenIds.begin(), tokenIds.end());
    if (*lowest >= 0 && *highest < std::int64_t(T) + kDenseSlack) {
        // Counting sort: one pass to count, one to place; placing in position order
        // keeps every id's positions ascending.
        std::vector<std::int64_t> start(std::size_t(*highest) + 2, 0);
        for (const std::int64_t id : tokenIds)
            ++start[std::size_t(id) + 1];
        std::partial_sum(start.begin(), start.end(), start.begin());
        m_offsets.push_back(0);
        for (std::size_t id = 0; id + 1 < start.size(); ++id)
            if (start[id + 1] > start[id]) {
                m_ids.push_back(std::int64_t(id));
                m_offsets.push_back(start[id + 1]);
            }
        std::vector<std::int64_t> next(start.begin(), start.end() - 1);
        for (std::size_t t = 0; t < T; ++t)
            m_positions[std::size_t(next[std::size_t(tokenIds[t])]++)] = std::int64_t(t);
        return;
    }
    std::iota(m_positions.begin(), m_positions.end(), std::int64_t(0));
    std::stable_sort(m_positions.begin(), m_positions.end(), [&](std::int64_t a, std::int64_t b) {
        return tokenIds[std::size_t(a)] < tokenIds[std::size_t(b)];
    });
    m_offsets.push_back(0);
    for (std::size_t i = 0; i < T; ++i) {
        const std::int64_t id = tokenIds[std::size_t(m_positions[i])];
        if (i + 1 == T || tokenIds[std::size_t(m_positions[i + 1])] != id) {
            m_ids.push_back(id);
            m_offsets.push_back(std::int64_t(i + 1));
        }
    }
}

std::span<const std::int64_t> TokenPositions::of(std::int64_t tokenId) const
{
    const auto it = std::lower_bound(m_ids.begin(), m_ids.end(), tokenId);
    if (it == m_ids.end() || *it != tokenId)
        return {};
    const std::size_t i = std::size_t(it - m_ids.begin());
    return std::span<const std::int64_t>(m_positions)
        .subspan(std::size_t(m_offsets[i]), std::size_t(m_offsets[i + 1] - m_offsets[i]));
}

} // namespace moescope
