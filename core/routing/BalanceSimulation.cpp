#include "routing/BalanceSimulation.h"

#include <algorithm>
#include <limits>
#include <stdexcept>

namespace moescope {

namespace {

std::size_t elementSize(LogitsType t)
{
    return t == LogitsType::Float16 ? 2 : t == LogitsType::Float32 ? 4 : 8;
}

double maxVio(const std::vector<std::int64_t> &counts, int topK, std::int64_t tokens)
{
    if (tokens == 0)
        return std::numeric_limits<double>::quiet_NaN();
    const double mean = double(topK) * double(tokens) / double(counts.size());
    return (double(*std::max_element(counts.begin(), counts.end())) - mean) / mean;
}

} // namespace

BalanceSimulator::BalanceSimulator(RoutingBackend &backend, const RoutingRules &rules, int numExperts, double rate,
                                   std::int64_t batchTokens)
    : m_backend(backend), m_with(rules), m_without(rules), m_numExperts(numExperts), m_rate(rate),
      m_batchTokens(batchTokens)
{
    if (!(rate > 0) || batchTokens < 1 || numExperts < 1)
        throw std::invalid_argument("balance simulation: needs a rate > 0 and batches of at least 1 token");
    m_with.expertBias.assign(std::size_t(numExperts), 0.0);
    m_without.expertBias.clear();
    m_countsWith.assign(std::size_t(numExperts), 0);
    m_countsWithout.assign(std::size_t(numExperts), 0);
}

void BalanceSimulator::routePiece(const LogitsView &piece)
{
    m_ids.resize(piece.rows * std::size_t(m_with.topK));
    m_valid.resize(piece.rows);
    ChunkOutput out;
    out.ids = m_ids.data();
    out.valid = m_valid.data();
    out.losses = false; // only the loads matter here
    LossTotals with, without;
    m_backend.route(piece, m_with, out, with);
    m_backend.route(piece, m_without, out, without);
    for (int e = 0; e < m_numExperts; ++e) {
        m_countsWith[e] += with.counts[e];
        m_countsWithout[e] += without.counts[e];
    }
    m_validWith += with.validRows;
    m_validWithout += without.validRows;
}

void BalanceSimulator::closeBatch()
{
    m_result.maxVioWith.push_back(maxVio(m_countsWith, m_with.topK, m_validWith));
    m_result.maxVioWithout.push_back(maxVio(m_countsWithout, m_with.topK, m_validWithout));
    if (m_validWith > 0) {
        const double mean = double(m_with.topK) * double(m_validWith) / m_numExperts;
        for (int e = 0; e < m_numExperts; ++e) {
            const double gap = mean - double(m_countsWith[e]);
            m_with.expertBias[e] += m_rate * double((gap > 0) - (gap < 0));
        }
    }
    std::fill(m_countsWith.begin(), m_countsWith.end(), 0);
    std::fill(m_countsWithout.begin(), m_countsWithout.end(), 0);
    m_validWith = m_validWithout = 0;
    m_inBatch = 0;
}

void BalanceSimulator::add(const LogitsView &chunk)
{
    if (chunk.numExperts != m_numExperts)
        throw std::invalid_argument("balance simulation: chunk has a different number of experts");
    const std::size_t rowBytes = elementSize(chunk.type) * std::size_t(m_numExperts);
    std::size_t done = 0;
    while (done < chunk.rows) {
        const auto rows = std::size_t(std::min<std::int64_t>(std::int64_t(chunk.rows - done), m_batchTokens - m_inBatch));
        LogitsView piece = chunk;
        piece.data = static_cast<const unsigned char *>(chunk.data) + done * rowBytes;
        piece.rows = rows;
        routePiece(piece);
        done += rows;
        m_inBatch += std::int64_t(rows);
        if (m_inBatch == m_batchTokens)
            closeBatch();
    }
}

BalanceResult BalanceSimulator::finish()
{
    if (m_inBatch > 0)
        closeBatch();
    m_result.finalBias = m_with.expertBias;
    return std::move(m_result);
}

} // namespace moescope
