#pragma once
// One interface, several engines: a backend routes chunks of logits by the rules and
// gathers, in the same pass, the statistics of the valid rows (expert counts and the
// loss terms). The analysis pass streams chunks from the reader into whichever
// backend the user chose (BackendFactory.h).
//
// Thread-safety: a backend serves one call at a time; it may use many threads inside.
#include "common/LogitsType.h"
#include "routing/CapacitySweep.h"
#include "routing/RoutingRules.h"
#include "stats/LayerChoices.h"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace moescope {

// Rows of router logits in memory, row-major [rows, numExperts]; not owned. Float16
// rows hold the raw IEEE binary16 bits in host byte order (the GPU loads them as they
// are, the CPU converts them in registers).
struct LogitsView {
    const void *data = nullptr;
    LogitsType type = LogitsType::Float32;
    std::size_t rows = 0;
    int numExperts = 0;
};

// Where a backend writes; any pointer but `valid` may be null when not wanted.
// With ids null the chunk is not routed at all: only validity and loss terms.
struct ChunkOutput {
    std::int32_t *ids = nullptr;     // [rows * k] best first
    float *weights = nullptr;        // [rows * k] gate weights (normalised, scaled)
    float *gateProbs = nullptr;      // [rows * k] p of each choice, as float(p in double)
    std::uint8_t *valid = nullptr;   // [rows] 0 where the row holds NaN or infinity
    bool losses = true;              // false: P[e] and z sums are not needed (a backend may skip them)
};

// Sums over the valid rows of the chunks routed so far.
struct LossTotals {
    std::vector<double> probSum;     // [E] sum of softmax p[t, e]
    double zSquaredSum = 0;          // sum of logsumexp^2
    std::int64_t validRows = 0, invalidRows = 0;
    std::vector<std::int64_t> counts; // [E] c[e] of the routed valid rows (empty until routed)
    void add(const LossTotals &other);
};

class RoutingBackend {
public:
    virtual ~RoutingBackend() = default;
    virtual std::string name() const = 0;

    // Routes logits.rows rows by `rules`: writes `out`, adds to `totals` (its vectors
    // are sized to E when empty). Choices agree with RowRouter (the GPU may differ
    // where two keys are within float rounding of each other). Throws
    // std::invalid_argument on inconsistent arguments, std::runtime_error when the
    // engine itself fails (after which the backend may still be used).
    virtual void route(const LogitsView &logits, const RoutingRules &rules, const ChunkOutput &out,
                       LossTotals &totals) = 0;

    // Drops and fully dropped tokens for every capacity factor at once (CapacitySweep.h).
    // The default runs on the CPU.
    virtual CapacitySweepResult sweepCapacity(const CapacityRanks &ranks, const std::vector<double> &factors);

    // Expert pairs of choices already in memory, the matrices of stats/ExpertPairs.h:
    // co-activation within a layer and transitions of the best expert from one layer to
    // another. The defaults run on the CPU.
    virtual std::vector<std::int64_t> coActivation(const LayerChoices &choices);
    virtual std::vector<std::int64_t> layerTransitions(const LayerChoices &from, const LayerChoices &to);

    // What the user should be told since the last call (e.g. the GPU failed and the
    // work went to the CPU). Empty for most backends.
    virtual std::vector<std::string> takeWarnings() { return {}; }

    // Typed conveniences for callers holding plain arrays.
    void routeChunk(const float *logits, std::size_t rows, int numExperts, const RoutingRules &rules,
                    const ChunkOutput &out, LossTotals &totals);
    void routeChunk(const double *logits, std::size_t rows, int numExperts, const RoutingRules &rules,
                    const ChunkOutput &out, LossTotals &totals);
    // Raw float16 bits, host byte order.
    void routeChunk(const std::uint16_t *halves, std::size_t rows, int numExperts, const RoutingRules &rules,
                    const ChunkOutput &out, LossTotals &totals);

protected:
    // What every route() does first: throws std::invalid_argument on an inconsistent
    // request, and sizes totals' vectors to E when they are empty.
    static void checkRequest(const LogitsView &logits, const RoutingRules &rules, const ChunkOutput &out,
                             LossTotals &totals);
};

// Which CPU code path routes: `Auto` picks the widest the processor has. `Scalar` is
// RowRouter itself on all cores; the vector paths serve the common case (no bias, no
// groups, k <= 32, float16/float32 input) and hand everything else to the scalar path.
enum class CpuKernel { Auto, Scalar, Avx2, Avx512 };

// threads 0: one per hardware thread. Throws std::invalid_argument when `kernel` asks
// for instructions this processor lacks.
std::unique_ptr<RoutingBackend> makeCpuBackend(unsigned threads = 0, CpuKernel kernel = CpuKernel::Auto);

// Whether this processor can run `kernel`.
bool cpuKernelAvailable(CpuKernel kernel);
const char *cpuKernelName(CpuKernel kernel);

} // namespace moescope
