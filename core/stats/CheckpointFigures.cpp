#include "stats/CheckpointFigures.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

namespace moescope {

namespace {
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// Whether row[i] already occurred earlier in the row (a set counts it once).
bool repeated(const std::int32_t *row, int i)
{
    for (int j = 0; j < i; ++j)
        if (row[j] == row[i])
            return true;
    return false;
}
} // namespace

CheckpointAccumulator::CheckpointAccumulator(int numExperts, int topK, std::size_t numCheckpoints,
                                             std::size_t reference, std::vector<std::size_t> order)
    : m_E(numExperts), m_k(topK), m_n(numCheckpoints), m_ref(reference), m_order(std::move(order))
{
    if (m_ref >= m_n || m_order.size() != m_n)
        throw std::invalid_argument("checkpoint comparison: the reference and the order must name the checkpoints");
    m_orderPos.assign(m_n, 0);
    for (std::size_t p = 0; p < m_n; ++p)
        m_orderPos.at(m_order[p]) = p;
    const std::size_t E = std::size_t(m_E);
    m_validTokens.assign(m_n, 0);
    m_counts.assign(m_n * E, 0);
    m_both.assign(m_n * E, 0);
    m_overlap.assign(m_n, 0);
    m_sameTop1.assign(m_n, 0);
    m_tokensInBoth.assign(m_n, 0);
    m_lastAt.assign(m_n, 0);
}

void CheckpointAccumulator::add(const std::vector<const std::int32_t *> &ids,
                                const std::vector<const std::uint8_t *> &valid, std::size_t rows)
{
    const std::size_t E = std::size_t(m_E);
    const int k = m_k;
    const std::size_t refPos = m_orderPos[m_ref];
    for (std::size_t t = 0; t < rows; ++t) {
        const bool refValid = valid[m_ref][t] != 0;
        const std::int32_t *r = ids[m_ref] + t * std::size_t(k);
        bool validEverywhere = true;
        for (std::size_t c = 0; c < m_n; ++c) {
            if (!valid[c][t]) {
                validEverywhere = false;
                continue;
            }
            const std::int32_t *row = ids[c] + t * std::size_t(k);
            ++m_validTokens[c];
            for (int i = 0; i < k; ++i)
                if (!repeated(row, i))
                    ++m_counts[c * E + std::size_t(row[i])];
            if (!refValid)
                continue;
            ++m_tokensInBoth[c];
            m_sameTop1[c] += row[0] == r[0];
            for (int i = 0; i < k; ++i)
                if (!repeated(row, i) && std::find(r, r + k, row[i]) != r + k) {
                    ++m_overlap[c];
                    ++m_both[c * E + std::size_t(row[i])];
                }
        }
        if (m_n < 3 || !validEverywhere)
            continue;
        ++m_fluctuationTokens;
        // The last checkpoint before the reference (in step order) whose best expert differs.
        for (std::size_t p = refPos; p-- > 0;)
            if (ids[m_order[p]][t * std::size_t(k)] != r[0]) {
                ++m_lastAt[p];
                break;
            }
    }
}

CheckpointLayerFigures CheckpointAccumulator::figures() const
{
    const std::size_t E = std::size_t(m_E);
    CheckpointLayerFigures out;
    auto utilization = [&](std::size_t c) {
        std::vector<double> u(E, 0.0);
        const double assignments = double(m_k) * double(m_validTokens[c]);
        for (std::size_t e = 0; e < E; ++e)
            u[e] = assignments > 0 ? double(m_counts[c * E + e]) / assignments : kNaN;
        return u;
    };
    out.referenceUtilization = utilization(m_ref);
    for (std::size_t c = 0; c < m_n; ++c) {
        CheckpointFigures f;
        f.tokensInBoth = m_tokensInBoth[c];
        const double both = double(m_tokensInBoth[c]);
        f.saturation = both > 0 ? double(m_overlap[c]) / (double(m_k) * both) : kNaN;
        f.saturationTop1 = both > 0 ? double(m_sameTop1[c]) / both : kNaN;
        f.utilization = utilization(c);
        f.loadChange.resize(E);
        f.expertJaccard.resize(E);
        double drift = 0, jaccardSum = 0;
        int jaccards = 0;
        for (std::size_t e = 0; e < E; ++e) {
            f.loadChange[e] = f.utilization[e] - out.referenceUtilization[e];
            drift += std::fabs(f.loadChange[e]);
            const std::int64_t inter = m_both[c * E + e];
            const std::int64_t uni = m_counts[c * E + e] + m_counts[m_ref * E + e] - inter;
            f.expertJaccard[e] = uni > 0 ? double(inter) / double(uni) : kNaN;
            if (uni > 0) {
                jaccardSum += f.expertJaccard[e];
                ++jaccards;
            }
        }
        f.loadDrift = 0.5 * drift;
        f.meanJaccard = jaccards ? jaccardSum / jaccards : kNaN;
        out.checkpoints.push_back(std::move(f));
    }
    if (m_n >= 3) {
        out.fluctuationTokens = m_fluctuationTokens;
        out.lastFluctuation.assign(m_n, 0.0);
        for (std::size_t c = 0; c < m_n; ++c) {
            std::int64_t atOrAfter = 0;
            for (std::size_t p = m_orderPos[c]; p < m_n; ++p)
                atOrAfter += m_lastAt[p];
            out.lastFluctuation[c] = m_fluctuationTokens ? double(atOrAfter) / double(m_fluctuationTokens) : kNaN;
        }
    }
    return out;
}

} // namespace moescope
