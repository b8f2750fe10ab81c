#pragma once
// One interface, several engines: a backend routes chunks of logits by the rules and
// gathers the loss terms of the valid rows. The analysis pass streams chunks from
// the reader into whichever backend the user chose.
#include "routing/RoutingRules.h"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace moescope {

// Where a backend writes; any pointer but `valid` may be null when not wanted.
// With ids null the chunk is not routed at all: only validity and loss terms.
struct ChunkOutput {
    std::int32_t *ids = nullptr;     // [rows * k] best first
    float *weights = nullptr;        // [rows * k]
    float *gateProbs = nullptr;      // [rows * k] p of each choice
    std::uint8_t *valid = nullptr;   // [rows] 0 where the row holds NaN or infinity
};

// Sums over the valid rows of the chunks routed so far.
struct LossTotals {
    std::vector<double> probSum;     // [E] sum of softmax p[t, e]
    double zSquaredSum = 0;          // sum of logsumexp^2
    std::int64_t validRows = 0, invalidRows = 0;
    void add(const LossTotals &other);
};

class RoutingBackend {
public:
    virtual ~RoutingBackend() = default;
    virtual std::string name() const = 0;
    virtual void routeChunk(const float *logits, std::size_t rows, int numExperts,
                            const RoutingRules &rules, const ChunkOutput &out, LossTotals &totals) = 0;
    // float64 logits; the default rounds to float and routes that.
    virtual void routeChunk(const double *logits, std::size_t rows, int numExperts,
                            const RoutingRules &rules, const ChunkOutput &out, LossTotals &totals);
};

// The CPU backend: the scalar rules of RowRouter on all cores.
std::unique_ptr<RoutingBackend> makeCpuBackend(unsigned threads = 0);

} // namespace moescope
