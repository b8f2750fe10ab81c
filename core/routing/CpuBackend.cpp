#include "routing/RoutingBackend.h"

#include "routing/RowRouter.h"

#include <algorithm>
#include <thread>

namespace moescope {

void LossTotals::add(const LossTotals &o)
{
    if (probSum.size() < o.probSum.size())
        probSum.resize(o.probSum.size(), 0.0);
    for (std::size_t e = 0; e < o.probSum.size(); ++e)
        probSum[e] += o.probSum[e];
    zSquaredSum += o.zSquaredSum;
    validRows += o.validRows;
    invalidRows += o.invalidRows;
}

void RoutingBackend::routeChunk(const double *logits, std::size_t rows, int numExperts,
                                const RoutingRules &rules, const ChunkOutput &out, LossTotals &totals)
{
    std::vector<float> narrow(logits, logits + rows * std::size_t(numExperts));
    routeChunk(narrow.data(), rows, numExperts, rules, out, totals);
}

namespace {

template <typename Real>
void routeRows(const Real *logits, std::size_t begin, std::size_t end, int E, const RoutingRules &rules,
               const ChunkOutput &out, LossTotals &totals)
{
    RowScratch scratch;
    totals.probSum.assign(E, 0.0);
    const std::size_t k = std::size_t(rules.topK);
    for (std::size_t r = begin; r < end; ++r) {
        const Real *row = logits + r * std::size_t(E);
        bool ok;
        if (out.ids) {
            RowOutput o{out.ids + r * k, out.weights ? out.weights + r * k : nullptr,
                        out.gateProbs ? out.gateProbs + r * k : nullptr};
            ok = routeRow(row, E, rules, o, scratch);
        } else {
            ok = rowIsFinite(row, E);
        }
        out.valid[r] = ok;
        if (!ok) {
            ++totals.invalidRows;
            continue;
        }
        ++totals.validRows;
        addLossTerms(row, E, rules.inputsAreProbabilities, totals.probSum.data(), totals.zSquaredSum);
    }
}

class CpuBackend final : public RoutingBackend {
public:
    explicit CpuBackend(unsigned threads)
        : m_threads(threads ? threads : std::max(1u, std::thread::hardware_concurrency())) {}
    std::string name() const override { return "cpu (" + std::to_string(m_threads) + " threads)"; }

    void routeChunk(const float *logits, std::size_t rows, int E, const RoutingRules &rules,
                    const ChunkOutput &out, LossTotals &totals) override
    {
        run(logits, rows, E, rules, out, totals);
    }
    void routeChunk(const double *logits, std::size_t rows, int E, const RoutingRules &rules,
                    const ChunkOutput &out, LossTotals &totals) override
    {
        run(logits, rows, E, rules, out, totals);
    }

private:
    template <typename Real>
    void run(const Real *logits, std::size_t rows, int E, const RoutingRules &rules, const ChunkOutput &out,
             LossTotals &totals)
    {
        const std::size_t parts = std::min<std::size_t>(m_threads, std::max<std::size_t>(1, rows / 1024));
        std::vector<LossTotals> partial(parts);
        std::vector<std::thread> workers;
        for (std::size_t p = 1; p < parts; ++p)
            workers.emplace_back([&, p] {
                routeRows(logits, rows * p / parts, rows * (p + 1) / parts, E, rules, out, partial[p]);
            });
        routeRows(logits, 0, rows / parts, E, rules, out, partial[0]);
        for (auto &w : workers)
            w.join();
        for (const auto &p : partial)
            totals.add(p);
    }
    unsigned m_threads;
};

} // namespace

std::unique_ptr<RoutingBackend> makeCpuBackend(unsigned threads)
{
    return std::make_unique<CpuBackend>(threads);
}

} // namespace moescope
