#pragma once
// Where each token id occurs in a dump: for every distinct id, its positions in
// ascending order, kept in one CSR-style block (distinct ids ascending, an offset per
// id into one array of positions). Built once per dump in O(T) when the ids are dense
// (the usual 0..V-1 vocabulary) and O(T log T) otherwise; a lookup is then a binary
// search over the distinct ids instead of a scan over all T tokens.
//
// Memory: 8 bytes per token plus 16 per distinct id. Thread-safety: immutable after
// construction, so any thread may read it. Pure computation, no I/O.
#include "common/LargeBuffer.h"

#include <cstdint>
#include <span>
#include <vector>

namespace moescope {

class TokenPositions {
public:
    TokenPositions() = default;
    // tokenIds[t] is the id at position t (any values, negative ones included).
    explicit TokenPositions(std::span<const std::int64_t> tokenIds);

    // The positions holding `tokenId`, ascending; empty for an id that never occurs.
    // The span stays valid as long as this object does.
    std::span<const std::int64_t> of(std::int64_t tokenId) const;
    std::size_t distinctIds() const { return m_ids.size(); }
    // The i-th distinct id (ascending) and its positions: a walk over every id.
    std::int64_t idAt(std::size_t i) const { return m_ids[i]; }
    std::span<const std::int64_t> group(std::size_t i) const
    {
        return std::span<const std::int64_t>(m_positions)
            .subspan(std::size_t(m_offsets[i]), std::size_t(m_offsets[i + 1] - m_offsets[i]));
    }
    std::int64_t numPositions() const { return std::int64_t(m_positions.size()); }
    // Every position, grouped by id (the groups in id order): group(i) is a part of it.
    std::span<const std::int64_t> allPositions() const { return m_positions; }

private:
    std::vector<std::int64_t> m_ids;       // distinct ids, ascending
    // [distinctIds + 1]: the id m_ids[i] holds m_positions[m_offsets[i], m_offsets[i + 1])
    std::vector<std::int64_t> m_offsets;
    // [T], grouped by id, ascending within a group. A LargeVector: 80 MB at 10 M tokens,
    // on huge pages and not zeroed twice (std::vector's faults cost more than the sort).
    LargeVector<std::int64_t> m_positions;
};

} // namespace moescope
