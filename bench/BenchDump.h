#pragma once
// What the benchmarks share: the benchmark dump (1,000,000 tokens x 8 layers x 64
// experts, float16 logits, uncompressed, top-8 like OLMoE) and timing a child process.
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace moescope::bench {

constexpr std::int64_t kTokens = 1000000;
constexpr int kLayers = 8, kExperts = 64, kTopK = 8;
constexpr double kLogitBytes = double(kTokens) * kLayers * kExperts * 2;

double seconds(std::chrono::steady_clock::time_point since);
void check(bool ok, const char *what); // exits with a message when !ok

// Router-like logits: a per-layer preference for some experts plus unit noise. A
// nonzero logitsSeed gives another checkpoint of the same tokens (same ids, other
// logits, checkpoint_step = logitsSeed).
void writeDump(const std::string &path, std::uint64_t logitsSeed = 0);

struct ChildRun {
    double seconds = 0;
    long peakKiB = 0;
    int status = -1;
    std::string out;
};

// Runs argv with stdout into a file; wall time and the child's peak resident memory.
ChildRun runChild(const std::vector<std::string> &argv, const std::string &outPath);

} // namespace moescope::bench
