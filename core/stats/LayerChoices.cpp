#include "stats/LayerChoices.h"

namespace moescope {

std::int64_t LayerChoices::validTokens() const
{
    std::int64_t n = 0;
    for (std::uint8_t v : valid)
        n += v != 0;
    return n;
}

std::vector<std::int64_t> LayerChoices::counts() const
{
    std::vector<std::int64_t> c(numExperts, 0);
    const std::int64_t T = numPositions();
    for (std::int64_t t = 0; t < T; ++t) {
        if (!valid[t])
            continue;
        const std::int32_t *row = ids.data() + t * topK;
        for (int i = 0; i < topK; ++i) {
            bool repeated = false;
            for (int j = 0; j < i; ++j)
                repeated |= row[j] == row[i];
            if (!repeated)
                ++c[row[i]];
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
