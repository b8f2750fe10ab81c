#include "routing/ExpertChoice.h"

#include "routing/RowRouter.h"

#include "io/Float16.h"
#include "stats/CapacityDrops.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <thread>

namespace moescope {

namespace {

// Better candidate first: higher score, then the earlier token.
template <typename C>
bool better(const C &a, const C &b)
{
    return a.score > b.score || (a.score == b.score && a.token < b.token);
}

// Room beyond C in a selection before it is trimmed back to C: trimming costs O(C),
// so every candidate let in costs O(1) on average.
std::size_t slackOf(std::int64_t capacity) { return std::size_t(std::max<std::int64_t>(64, capacity / 8)); }

} // namespace

ExpertChoiceRouter::ExpertChoiceRouter(int numExperts, const RoutingRules &rules, double capacityFactor,
                                       std::vector<std::int64_t> groupBounds,
                                       std::vector<std::int64_t> validPerGroup, unsigned threads)
    : m_numExperts(numExperts), m_rules(rules), m_capacityFactor(capacityFactor),
      m_bounds(std::move(groupBounds)), m_validPerGroup(std::move(validPerGroup)),
      m_pool(std::make_unique<ThreadPool>(threads ? threads : std::max(1u, std::thread::hardware_concurrency())))
{
    if (numExperts < 1 || m_bounds.size() < 2 || m_validPerGroup.size() + 1 != m_bounds.size())
        throw std::invalid_argument("expert choice: bad experts or capacity groups");
    if (m_bounds.back() > std::numeric_limits<std::int32_t>::max())
        throw std::invalid_argument("expert choice: more than 2^31 - 1 tokens");
    m_kept.resize(std::size_t(numExperts));
    m_result.taken.assign(std::size_t(numExperts), 0);
    m_result.expertsOfToken.assign(std::size_t(m_bounds.back()), 0);
    m_tokenValid.assign(std::size_t(m_bounds.back()), 0);
    openGroup(0);
}

ExpertChoiceRouter::~ExpertChoiceRouter() = default;

void ExpertChoiceRouter::openGroup(std::size_t g)
{
    m_group = g;
    m_capacity = g < m_validPerGroup.size()
                     ? expertCapacity(m_capacityFactor, m_rules.topK, m_validPerGroup[g], m_numExperts)
                     : 0;
    if (g < m_validPerGroup.size())
        m_result.capacity.push_back(m_capacity);
    for (Selection &s : m_kept) {
        s.kept.clear();
        s.kept.reserve(m_capacity > 0 ? std::size_t(m_capacity) + slackOf(m_capacity) : 0);
        s.hasBar = false;
    }
}

void ExpertChoiceRouter::trim(Selection &s) const
{
    const auto C = std::size_t(m_capacity);
    if (s.kept.size() <= C)
        return;
    std::nth_element(s.kept.begin(), s.kept.begin() + std::ptrdiff_t(C - 1), s.kept.end(), better<Candidate>);
    s.kept.resize(C);
    s.bar = s.kept[C - 1].score; // the C-th best: everything before it is better
    s.hasBar = true;
}

void ExpertChoiceRouter::closeGroup()
{
    for (int e = 0; e < m_numExperts; ++e) {
        Selection &s = m_kept[e];
        trim(s);
        for (const Candidate &c : s.kept)
            ++m_result.expertsOfToken[c.token];
        m_result.taken[e] += std::int64_t(s.kept.size());
    }
    openGroup(m_group + 1);
}

void ExpertChoiceRouter::add(const LogitsView &chunk, std::int64_t begin)
{
    const int E = m_numExperts;
    if (chunk.numExperts != E)
        throw std::invalid_argument("expert choice: chunk has a different number of experts");
    std::size_t done = 0;
    while (done < chunk.rows) {
        const std::int64_t at = begin + std::int64_t(done);
        while (m_group + 1 < m_bounds.size() && at >= m_bounds[m_group + 1])
            closeGroup();
        if (m_group + 1 >= m_bounds.size())
            throw std::invalid_argument("expert choice: rows beyond the last group");
        // This piece stays inside the current group, and its scores (doubles) stay small.
        constexpr std::size_t kPieceScores = std::size_t(1) << 20;
        const std::size_t rows = std::min<std::size_t>({chunk.rows - done, std::size_t(m_bounds[m_group + 1] - at),
                                                        std::max<std::size_t>(1, kPieceScores / std::size_t(E))});
        m_scores.resize(rows * std::size_t(E));
        m_valid.resize(rows);
        const std::size_t parts = std::clamp<std::size_t>(rows / 256, 1, m_pool->size() * 4);
        m_pool->run(parts, [&](std::size_t p) {
            std::vector<float> row(static_cast<std::size_t>(E));
            for (std::size_t r = rows * p / parts; r < rows * (p + 1) / parts; ++r) {
                const std::size_t src = done + r;
                double *out = m_scores.data() + r * std::size_t(E);
                switch (chunk.type) {
                case LogitsType::Float16:
                    halvesToFloats(static_cast<const std::uint16_t *>(chunk.data) + src * std::size_t(E), row.data(),
                                   std::size_t(E));
                    m_valid[r] = rowScores(row.data(), E, m_rules, out);
                    break;
                case LogitsType::Float32:
                    m_valid[r] = rowScores(static_cast<const float *>(chunk.data) + src * std::size_t(E), E,
                                           m_rules, out);
                    break;
                case LogitsType::Float64:
                    m_valid[r] = rowScores(static_cast<const double *>(chunk.data) + src * std::size_t(E), E,
                                           m_rules, out);
                    break;
                }
            }
        });
        // Each expert's selection is its own: split the experts over the threads.
        const std::size_t expertParts = std::min<std::size_t>(std::size_t(E), m_pool->size());
        m_pool->run(expertParts, [&](std::size_t p) {
            if (m_capacity <= 0)
                return;
            const std::size_t full = std::size_t(m_capacity) + slackOf(m_capacity);
            for (std::size_t e = std::size_t(E) * p / expertParts; e < std::size_t(E) * (p + 1) / expertParts; ++e) {
                Selection &s = m_kept[e];
                for (std::size_t r = 0; r < rows; ++r) {
                    const double score = m_scores[r * std::size_t(E) + e];
                    // A later token beats the C-th best only with a strictly higher score.
                    if (!m_valid[r] || (s.hasBar && !(score > s.bar)))
                        continue;
                    s.kept.push_back({score, std::int32_t(at + std::int64_t(r))});
                    if (s.kept.size() == full)
                        trim(s);
                }
            }
        });
        for (std::size_t r = 0; r < rows; ++r) {
            m_result.validTokens += m_valid[r];
            m_tokenValid[std::size_t(at) + r] = m_valid[r];
        }
        done += rows;
    }
}

ExpertChoiceResult ExpertChoiceRouter::finish(const std::vector<std::int64_t> &sequenceOffsets)
{
    while (m_group + 1 < m_bounds.size())
        closeGroup();
    const std::int64_t T = m_bounds.back();
    const std::vector<std::int64_t> offsets =
        sequenceOffsets.size() >= 2 ? sequenceOffsets : std::vector<std::int64_t>{0, T};
    m_result.unroutedByPosition.assign(kPositionBins, 0);
    for (std::size_t s = 0; s + 1 < offsets.size(); ++s) {
        const std::int64_t begin = offsets[s], length = offsets[s + 1] - offsets[s];
        for (std::int64_t t = begin; t < begin + length && t < T; ++t) {
            if (!m_tokenValid[t] || m_result.expertsOfToken[t] != 0)
                continue;
            ++m_result.unrouted;
            ++m_result.unroutedByPosition[std::min<std::int64_t>(kPositionBins - 1, (t - begin) * kPositionBins / length)];
        }
    }
    return std::move(m_result);
}

} // namespace moescope
