#pragma once
// Writes routing dumps for the tests with the HDF5 C API, in every storage variant
// the spec allows (float16/32/64, integer widths, chunking, deflate, shuffle,
// big-endian), and lets a test break one rule at a time.
#include <hdf5.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace moescope::test {

struct FixtureLayer {
    std::string name;
    std::optional<std::int64_t> index;
    std::vector<float> logits;        // [T * E]; empty: no logits dataset
    std::vector<std::int64_t> topkIds; // [T * k]; empty: none
    std::vector<float> topkWeights;   // [T * k]; empty: none
    std::vector<double> expertBias;   // [E]; empty: none
    std::vector<std::int64_t> counts; // [E] load-only counts (integers); empty: none
    std::vector<double> floatCounts;  // [E] the same as float32; empty: none
};

struct StorageOptions {
    int floatBits = 32;        // 16, 32 or 64 for logits
    int idBits = 64;           // integer width of ids and topk_ids
    bool idsUnsigned = false;
    bool bigEndian = false;
    bool chunked = false;
    bool deflate = false;      // implies chunked
    bool shuffle = false;      // implies chunked
    int chunkColumns = 0;      // chunks this many columns wide (0: whole rows)
    bool variableStrings = true;
};

struct DumpFixture {
    int numExperts = 4;
    int topK = 1;
    std::vector<std::int64_t> tokenIds;
    std::vector<std::string> vocab;            // empty: no vocab
    std::vector<std::int64_t> sequenceOffsets; // empty: none
    std::vector<std::string> sequenceLabels;   // empty: none
    std::vector<FixtureLayer> layers;
    // Root attributes written besides format/format_version/num_experts/top_k;
    // numbers and strings. A key listed in `omit` is not written at all.
    std::map<std::string, double> numberAttributes;
    std::map<std::string, std::string> stringAttributes;
    std::vector<std::string> omit;
    std::string format = "moe-routing";
    // /training: steps [N], lbLoss/zLoss [N * L], tokensPerExpert [N * L * E].
    std::vector<std::int64_t> trainingSteps;
    std::vector<double> trainingLb, trainingZ;
    std::vector<std::int64_t> trainingTokens;

    void write(const std::string &path, const StorageOptions &storage = {}) const;
};

// A fixture of T tokens, one or more layers of random logits (seeded), with vocab.
DumpFixture randomFixture(int tokens, int experts, int topK, int layers, unsigned seed);

// IEEE half bits of a float, round to nearest even (for writing float16 fixtures).
std::uint16_t floatToHalf(float f);

} // namespace moescope::test
