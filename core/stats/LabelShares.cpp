#include "stats/LabelShares.h"

namespace moescope {

std::map<std::string, std::vector<double>> labelShares(const LayerChoices &c,
                                                       const std::vector<std::int64_t> &offsets,
                                                       const std::vector<std::string> &labels)
{
    std::map<std::string, std::vector<std::int64_t>> counts;
    std::map<std::string, std::int64_t> tokens;
    for (std::size_t s = 0; s < labels.size() && s + 1 < offsets.size(); ++s) {
        auto &cnt = counts[labels[s]];
        cnt.resize(c.numExperts, 0);
        auto &n = tokens[labels[s]];
        for (std::int64_t t = offsets[s]; t < offsets[s + 1]; ++t) {
            if (!c.valid[t])
                continue;
            ++n;
            for (int i = 0; i < c.topK; ++i) {
                const std::int32_t e = c.ids[t * c.topK + i];
                bool repeated = false;
                for (int j = 0; j < i; ++j)
                    repeated |= c.ids[t * c.topK + j] == e;
                cnt[e] += !repeated;
            }
        }
    }
    std::map<std::string, std::vector<double>> shares;
    for (const auto &[label, cnt] : counts) {
        auto &u = shares[label];
        u.assign(c.numExperts, 0.0);
        const double assignments = double(c.topK) * double(tokens[label]);
        if (assignments > 0)
            for (int e = 0; e < c.numExperts; ++e)
                u[e] = double(cnt[e]) / assignments;
    }
    return shares;
}

std::map<std::string, std::vector<double>> domainSpecialisation(
    const std::map<std::string, std::vector<double>> &labelShares, int topK)
{
    std::map<std::string, std::vector<double>> shares = labelShares;
    for (auto &[label, u] : shares)
        for (double &v : u)
            v *= double(topK);
    return shares;
}

} // namespace moescope
