// The CPU backend: a chunk is cut into parts that the thread pool routes; each part
// goes to the vector kernel (CpuKernel.h) when the rules allow, else to RowRouter.
// Parts keep their own sums, added in part order, so results do not depend on which
// thread ran what. The expert-pair matrices are counted the same way: parts of the
// tokens, each into a matrix of its own, summed at the end.
#include "routing/RoutingBackend.h"

#include "io/Float16.h"
#include "routing/CpuKernel.h"
#include "routing/RowRouter.h"
#include "routing/ThreadPool.h"
#include "stats/ExpertPairs.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <utility>

namespace moescope {

void LossTotals::add(const LossTotals &o)
{
    if (probSum.size() < o.probSum.size())
        probSum.resize(o.probSum.size(), 0.0);
    for (std::size_t e = 0; e < o.probSum.size(); ++e)
        probSum[e] += o.probSum[e];
    if (counts.size() < o.counts.size())
        counts.resize(o.counts.size(), 0);
    for (std::size_t e = 0; e < o.counts.size(); ++e)
        counts[e] += o.counts[e];
    zSquaredSum += o.zSquaredSum;
    validRows += o.validRows;
    invalidRows += o.invalidRows;
}

void RoutingBackend::routeChunk(const float *logits, std::size_t rows, int numExperts, const RoutingRules &rules,
                                const ChunkOutput &out, LossTotals &totals)
{
    route({logits, LogitsType::Float32, rows, numExperts}, rules, out, totals);
}

void RoutingBackend::routeChunk(const double *logits, std::size_t rows, int numExperts, const RoutingRules &rules,
                                const ChunkOutput &out, LossTotals &totals)
{
    route({logits, LogitsType::Float64, rows, numExperts}, rules, out, totals);
}

void RoutingBackend::routeChunk(const std::uint16_t *halves, std::size_t rows, int numExperts,
                                const RoutingRules &rules, const ChunkOutput &out, LossTotals &totals)
{
    route({halves, LogitsType::Float16, rows, numExperts}, rules, out, totals);
}

void RoutingBackend::checkRequest(const LogitsView &in, const RoutingRules &rules, const ChunkOutput &out,
                                  LossTotals &totals)
{
    const int E = in.numExperts;
    if (E < 1 || (in.rows && (!in.data || !out.valid)))
        throw std::invalid_argument("route: no experts, no logits or no validity output");
    if (out.ids && (rules.topK < 1 || rules.topK > E))
        throw std::invalid_argument("route: k must be 1 to E = " + std::to_string(E));
    if (totals.probSum.empty())
        totals.probSum.assign(std::size_t(E), 0.0);
    if (totals.counts.empty())
        totals.counts.assign(std::size_t(E), 0);
}

CapacitySweepResult RoutingBackend::sweepCapacity(const CapacityRanks &ranks, const std::vector<double> &factors)
{
    return sweepCapacityOnCpu(ranks, factors);
}

std::vector<std::int64_t> RoutingBackend::coActivation(const LayerChoices &choices)
{
    return moescope::coActivation(choices);
}

std::vector<std::int64_t> RoutingBackend::layerTransitions(const LayerChoices &from, const LayerChoices &to)
{
    return moescope::layerTransitions(from, to);
}

bool cpuKernelAvailable(CpuKernel kernel)
{
    switch (kernel) {
    case CpuKernel::Auto:
    case CpuKernel::Scalar: return true;
    case CpuKernel::Avx2: return kernels::processorHasAvx2();
    case CpuKernel::Avx512: return kernels::processorHasAvx512();
    }
    return false;
}

const char *cpuKernelName(CpuKernel kernel)
{
    switch (kernel) {
    case CpuKernel::Auto: return "auto";
    case CpuKernel::Scalar: return "scalar";
    case CpuKernel::Avx2: return "avx2";
    case CpuKernel::Avx512: return "avx512";
    }
    return "";
}

namespace {

// Gate weights and probabilities of a row routed by the vector kernel, by RowRouter
// itself (in double), so score-priority dropping orders assignments exactly as the
// scalar path would.
struct ExactContext {
    const RoutingRules *rules;
    int numExperts;
    float *weights, *gateProbs;
};

void exactOutputs(const void *context, std::size_t row, const float *z, const std::int32_t *ids)
{
    const auto &c = *static_cast<const ExactContext *>(context);
    const int k = c.rules->topK;
    double p[kernels::kMaxTopK];
    chosenScores(z, c.numExperts, *c.rules, ids, k, p);
    const std::size_t at = row * std::size_t(k);
    gateOutputs(p, k, *c.rules, RowOutput{nullptr, c.weights ? c.weights + at : nullptr,
                                          c.gateProbs ? c.gateProbs + at : nullptr});
}

// The rows [begin, end) by RowRouter: every rule, float or double precision. With
// `tally` false only the choices, their counts and the validity flags are made (the
// vector kernel adds the rest).
// `halves`, when given, are the same rows as float16 bits: sigmoid scores then come
// from sigmoidOfHalves() (the same bits as computing them, without an exp each).
template <typename Real>
void scalarRows(const Real *logits, std::size_t begin, std::size_t end, int E, const RoutingRules &rules,
                const ChunkOutput &out, LossTotals &totals, bool tally = true,
                const std::uint16_t *halves = nullptr)
{
    RowScratch scratch;
    const std::size_t k = std::size_t(rules.topK);
    const double *sigmoids =
        halves && rules.scoring == Scoring::Sigmoid && !rules.inputsAreProbabilities ? sigmoidOfHalves() : nullptr;
    std::vector<double> scores(sigmoids ? std::size_t(E) : 0);
    for (std::size_t r = begin; r < end; ++r) {
        const Real *row = logits + r * std::size_t(E);
        bool ok;
        if (out.ids) {
            RowOutput o{out.ids + r * k, out.weights ? out.weights + r * k : nullptr,
                        out.gateProbs ? out.gateProbs + r * k : nullptr};
            if (sigmoids) {
                ok = rowIsFinite(row, E);
                if (ok) {
                    const std::uint16_t *h = halves + (r - begin) * std::size_t(E);
                    for (int e = 0; e < E; ++e)
                        scores[std::size_t(e)] = sigmoids[h[e]];
                    chooseRow(row, scores.data(), E, rules, o, scratch);
                }
            } else {
                ok = routeRow(row, E, rules, o, scratch);
            }
            if (ok)
                for (std::size_t i = 0; i < k; ++i)
                    ++totals.counts[o.ids[i]];
        } else {
            ok = rowIsFinite(row, E);
        }
        out.valid[r] = ok;
        if (!tally)
            continue;
        if (!ok) {
            ++totals.invalidRows;
            continue;
        }
        ++totals.validRows;
        if (out.losses)
            addLossTerms(row, E, rules.inputsAreProbabilities, totals.probSum.data(), totals.zSquaredSum);
    }
}

// float16 rows on the scalar path: converted row by row (exactly) and routed as float.
void scalarHalfRows(const std::uint16_t *halves, std::size_t begin, std::size_t end, int E,
                    const RoutingRules &rules, const ChunkOutput &out, LossTotals &totals, bool tally)
{
    std::vector<float> row(static_cast<std::size_t>(E));
    const std::size_t k = std::size_t(rules.topK);
    for (std::size_t r = begin; r < end; ++r) {
        halvesToFloats(halves + r * std::size_t(E), row.data(), std::size_t(E));
        // Route this one row as a chunk of its own, with outputs shifted to row r.
        ChunkOutput one{out.ids ? out.ids + r * k : nullptr, out.weights ? out.weights + r * k : nullptr,
                        out.gateProbs ? out.gateProbs + r * k : nullptr, out.valid + r, out.losses};
        scalarRows(row.data(), 0, 1, E, rules, one, totals, tally, halves + r * std::size_t(E));
    }
}

// Expert-pair counting: a part of the tokens per thread, but no part under this many
// tokens (a part clears and adds a whole E x E matrix), and the parts' matrices
// together within this many bytes (E = 4096 takes 128 MB a matrix).
constexpr std::int64_t kPairTokensPerPart = 2048;
constexpr double kPairPartBytes = 256.0 * 1024 * 1024;

std::size_t pairParts(std::int64_t tokens, std::size_t E, unsigned threads)
{
    const double matrixBytes = double(E) * double(E) * sizeof(std::int64_t);
    const double byMemory = std::max(1.0, std::floor(kPairPartBytes / std::max(matrixBytes, 1.0)));
    const std::int64_t byTokens = std::max<std::int64_t>(1, tokens / kPairTokensPerPart);
    return std::size_t(std::min({double(threads), byMemory, double(byTokens)}));
}

// Adds the matrices of parts 1.. into part 0, rows shared among the pool's threads.
std::vector<std::int64_t> sumParts(std::vector<std::vector<std::int64_t>> &parts, std::size_t E, ThreadPool &pool)
{
    const std::size_t rowBlocks = std::min<std::size_t>(E, std::size_t(pool.size()) * 4);
    if (parts.size() > 1)
        pool.run(rowBlocks, [&](std::size_t b) {
            const std::size_t begin = E * (E * b / rowBlocks), end = E * (E * (b + 1) / rowBlocks);
            for (std::size_t p = 1; p < parts.size(); ++p)
                for (std::size_t i = begin; i < end; ++i)
                    parts[0][i] += parts[p][i];
        });
    return std::move(parts[0]);
}

// Co-activation of tokens [begin, end) into `m`, half of it: each expert a token chose
// at [e][e], each pair of them once, at [the one chosen first][the other]. The whole
// matrix is m + its transpose off the diagonal (foldPairs). Putting each pair at
// [min][max] instead costs a branch that real choices mispredict half the time: four
// times slower. `seen` (E entries) holds the last token that chose each expert, so a
// repeated id counts once at any k.
void coActivationPart(const LayerChoices &c, std::int64_t begin, std::int64_t end, std::vector<std::int64_t> &m)
{
    const std::size_t E = std::size_t(c.numExperts), k = std::size_t(c.topK);
    std::vector<std::int64_t> seen(E, -1);
    std::vector<std::int32_t> set(k);
    for (std::int64_t t = begin; t < end; ++t) {
        if (!c.valid[std::size_t(t)])
            continue;
        const std::int32_t *row = c.ids.data() + std::size_t(t) * k;
        std::size_t n = 0;
        for (std::size_t i = 0; i < k; ++i)
            if (std::exchange(seen[std::size_t(row[i])], t) != t)
                set[n++] = row[i];
        for (std::size_t i = 0; i < n; ++i) {
            std::int64_t *counts = m.data() + std::size_t(set[i]) * E;
            for (std::size_t j = i; j < n; ++j)
                ++counts[std::size_t(set[j])];
        }
    }
}

// Makes the summed halves of coActivationPart the symmetric matrix: for x < y both
// [x][y] and [y][x] become their sum. Task b takes the rows x = b, b + tasks, ... and
// with them the pairs (x, y > x), so no two tasks touch one entry and the long upper
// rows are spread over all of them.
void foldPairs(std::vector<std::int64_t> &a, std::size_t E, ThreadPool &pool)
{
    const std::size_t tasks = std::min<std::size_t>(E, std::size_t(pool.size()) * 4);
    pool.run(tasks, [&](std::size_t b) {
        for (std::size_t x = b; x < E; x += tasks)
            for (std::size_t y = x + 1; y < E; ++y)
                a[x * E + y] = a[y * E + x] = a[x * E + y] + a[y * E + x];
    });
}

class CpuBackend final : public RoutingBackend {
public:
    CpuBackend(unsigned threads, CpuKernel kernel) : m_pool(threads), m_kernel(kernel) {}

    std::string name() const override
    {
        return std::string("cpu (") + std::to_string(m_pool.size()) + " threads, " + cpuKernelName(m_kernel) + ")";
    }

    void route(const LogitsView &in, const RoutingRules &rules, const ChunkOutput &out, LossTotals &totals) override
    {
        checkRequest(in, rules, out, totals);
        const int E = in.numExperts;
        if (in.rows == 0)
            return;

        const bool kernel = m_kernel != CpuKernel::Scalar && in.type != LogitsType::Float64 &&
                            E <= kernels::kMaxExperts;
        const bool vector =
            kernel && (!out.ids || (!rules.hasBias() && !rules.groupLimited() && rules.topK <= kernels::kMaxTopK));
        // Rules the kernel cannot choose by (bias, groups, k > kMaxTopK): RowRouter
        // chooses, and the kernel still adds the loss terms, many times faster than
        // RowRouter's double-precision ones (at E = 256 they were half of a row's time).
        const bool vectorLosses = kernel && !vector && out.losses;
        // Parts of at least 512 rows, a few per thread so a busy core does not hold the rest up.
        const std::size_t parts = std::clamp<std::size_t>(in.rows / 512, 1, std::size_t(m_pool.size()) * 4);
        std::vector<LossTotals> partial(parts);
        const ExactContext exact{&rules, E, out.weights, out.gateProbs};
        m_pool.run(parts, [&](std::size_t p) {
            const std::size_t begin = in.rows * p / parts, end = in.rows * (p + 1) / parts;
            LossTotals &t = partial[p];
            t.probSum.assign(std::size_t(E), 0.0);
            t.counts.assign(std::size_t(E), 0);
            auto kernelPass = [&](std::int32_t *ids) {
                kernels::RowJob job;
                job.logits = in.data;
                job.halves = in.type == LogitsType::Float16;
                job.begin = begin;
                job.end = end;
                job.numExperts = E;
                job.topK = rules.topK;
                job.probabilities = rules.inputsAreProbabilities;
                job.ids = ids;
                job.valid = out.valid;
                if (ids && (out.weights || out.gateProbs)) {
                    job.exactOutputs = exactOutputs;
                    job.exactContext = &exact;
                }
                std::vector<float> scratch(kernels::scratchFloats(E) + 16);
                job.scratch = scratch.data() + (16 - (reinterpret_cast<std::uintptr_t>(scratch.data()) / 4) % 16) % 16;
                job.probSum = t.probSum.data();
                job.counts = t.counts.data();
                if (m_kernel == CpuKernel::Avx512)
                    kernels::routeRowsAvx512(job);
                else
                    kernels::routeRowsAvx2(job);
                t.zSquaredSum = job.zSquaredSum;
                t.validRows = job.validRows;
                t.invalidRows = job.invalidRows;
            };
            if (vector) {
                kernelPass(out.ids);
                return;
            }
            if (vectorLosses)
                kernelPass(nullptr); // validity and loss terms only
            if (in.type == LogitsType::Float16) {
                scalarHalfRows(static_cast<const std::uint16_t *>(in.data), begin, end, E, rules, out, t,
                               !vectorLosses);
            } else if (in.type == LogitsType::Float32) {
                scalarRows(static_cast<const float *>(in.data), begin, end, E, rules, out, t, !vectorLosses);
            } else {
                scalarRows(static_cast<const double *>(in.data), begin, end, E, rules, out, t);
            }
        });
        for (const LossTotals &t : partial)
            totals.add(t);
    }

    std::vector<std::int64_t> coActivation(const LayerChoices &c) override
    {
        const std::size_t E = std::size_t(std::max(c.numExperts, 0));
        const std::int64_t T = c.numPositions();
        std::vector<std::vector<std::int64_t>> parts(pairParts(T, E, m_pool.size()));
        m_pool.run(parts.size(), [&](std::size_t p) {
            parts[p].assign(E * E, 0);
            coActivationPart(c, T * std::int64_t(p) / std::int64_t(parts.size()),
                             T * std::int64_t(p + 1) / std::int64_t(parts.size()), parts[p]);
        });
        std::vector<std::int64_t> a = sumParts(parts, E, m_pool);
        foldPairs(a, E, m_pool);
        return a;
    }

    std::vector<std::int64_t> layerTransitions(const LayerChoices &from, const LayerChoices &to) override
    {
        const std::size_t E = std::size_t(std::max(from.numExperts, 0));
        const std::int64_t T = std::min(from.numPositions(), to.numPositions());
        std::vector<std::vector<std::int64_t>> parts(pairParts(T, E, m_pool.size()));
        m_pool.run(parts.size(), [&](std::size_t p) {
            parts[p].assign(E * E, 0);
            addLayerTransitions(from, to, T * std::int64_t(p) / std::int64_t(parts.size()),
                                T * std::int64_t(p + 1) / std::int64_t(parts.size()), parts[p]);
        });
        return sumParts(parts, E, m_pool);
    }

private:
    ThreadPool m_pool;
    CpuKernel m_kernel;
};

CpuKernel bestKernel()
{
    if (kernels::processorHasAvx512())
        return CpuKernel::Avx512;
    if (kernels::processorHasAvx2())
        return CpuKernel::Avx2;
    return CpuKernel::Scalar;
}

} // namespace

std::unique_ptr<RoutingBackend> makeCpuBackend(unsigned threads, CpuKernel kernel)
{
    if (kernel == CpuKernel::Auto)
        kernel = bestKernel();
    if (!cpuKernelAvailable(kernel))
        throw std::invalid_argument(std::string("this processor cannot run the ") + cpuKernelName(kernel) +
                                    " kernel");
    if (threads == 0)
        threads = std::max(1u, std::thread::hardware_concurrency());
    return std::make_unique<CpuBackend>(threads, kernel);
}

} // namespace moescope
