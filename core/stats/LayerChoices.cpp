#include "stats/LayerChoices.h"

namespace moescope {

std::int64_t LayerChoices::validTokens() const
{
    std::int64_t n = 0;
    for (std::uint8_t v : valid)
        n += v != 0;
    return n;
}

// An expert repeated within a token's row counts once (the tie rule). Rather than
// compare the k ids pairwise, each expert remembers the last row that counted it.
std::vector<std::int64_t> LayerChoices::counts() const
{
    std::vector<std::int64_t> c(numExperts, 0);
    std::vector<std::int64_t> lastRow(numExperts, -1);
    const std::int64_t T = numPositions();
    const std::size_t k = std::size_t(topK);
    const std::int32_t *ids = this->ids.data();
    const std::uint8_t *ok = valid.data();
    std::int64_t *count = c.data(), *last = lastRow.data();
    for (std::int64_t t = 0; t < T; ++t) {
        if (!ok[t])
            continue;
        const std::int32_t *row = ids + std::size_t(t) * k;
        for (std::size_t i = 0; i < k; ++i) {
            const std::size_t e = std::size_t(row[i]);
            count[e] += last[e] != t;
            last[e] = t;
        }
    }
    return c;
}

bool LayerChoices::chose(std::int64_t t, int e) const
{
    if (!valid[t])
        return false;
    const std::int32_t *row = ids.data() + t * topK;
    for (int i = 0; i < topK; ++i)
        if (row[i] == e)
            return true;
    return false;
}

} // namespace moescope
