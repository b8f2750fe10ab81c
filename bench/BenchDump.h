#pragma once
// What the benchmarks share: the benchmark dump (1,000,000 tokens x 8 layers x 64
// experts, float16 logits, uncompressed, top-8 like OLMoE), timing a child process, and
// the HDF5 pieces the benchmark writers have in common.
#include <hdf5.h>

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

// Runs argv with stdout into a file (stderr too when errPath is given); wall time and
// the child's peak resident memory.
ChildRun runChild(const std::vector<std::string> &argv, const std::string &outPath, const std::string &errPath = {});

// The HDF5 pieces the benchmark writers share.
std::uint16_t toHalf(float f); // IEEE half, round to nearest even (normal range)
hid_t halfType();              // IEEE binary16 as an HDF5 type (close with H5Tclose)
void integerAttribute(hid_t object, const char *name, long long value);
void stringAttribute(hid_t object, const char *name, const std::string &value);

} // namespace moescope::bench
