#pragma once
// The vector row kernels of the CPU backend and what they share with it. Internal to
// core/routing: CpuBackend.cpp cuts a chunk into RowJobs, one per thread, and calls
// the kernel the processor supports.
//
// The kernels serve the common case: no bias and no groups, so experts are chosen by
// their raw logits (the scoring is monotone: the same order as the scores, with no
// ties that rounding of exp() could invent), k <= kMaxTopK, E <= kMaxExperts.
#include <cstddef>
#include <cstdint>

namespace moescope::kernels {

inline constexpr int kMaxExperts = 4096;
inline constexpr int kMaxTopK = 32;

// Called for each valid row when gate weights or probabilities are wanted: they are
// computed in double exactly as RowRouter does (outside the vector code, so the
// compiler cannot fuse its multiply-adds differently).
using ExactOutputs = void (*)(const void *context, std::size_t row, const float *values, const std::int32_t *ids);

struct RowJob {
    const void *logits = nullptr;   // the whole chunk: [rows * E] halves or floats
    bool halves = false;
    std::size_t begin = 0, end = 0; // the rows of this job
    int numExperts = 0, topK = 0;
    bool probabilities = false;     // rows hold p[t, e] (no z-loss term)
    std::int32_t *ids = nullptr;    // [rows * k], chunk-wide; null: validity and losses only
    std::uint8_t *valid = nullptr;  // [rows], chunk-wide
    float *scratch = nullptr;       // scratchFloats(E) floats, 64-byte aligned, this job's own
    ExactOutputs exactOutputs = nullptr;
    const void *exactContext = nullptr;
    // This job's own sums.
    double *probSum = nullptr;      // [E]
    std::int64_t *counts = nullptr; // [E]
    double zSquaredSum = 0;
    std::int64_t validRows = 0, invalidRows = 0;
};

// The block buffer the kernels need for E experts.
inline std::size_t scratchFloats(int numExperts) { return std::size_t(16) * std::size_t((numExperts + 15) / 16 * 16); }

void routeRowsAvx512(RowJob &job);
void routeRowsAvx2(RowJob &job);

bool processorHasAvx512();
bool processorHasAvx2();

} // namespace moescope::kernels
