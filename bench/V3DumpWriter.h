#pragma once
// Writes a dump shaped like DeepSeek-V3's routing (256 experts, top-8, 58 MoE layers)
// as recorders store it: recorded choices only, int16 ids and float16 weights, gzip
// level 1 with shuffle, 65,536-row chunks, no logits. Skewed loads (a few hot experts
// per layer), a 129,280-entry vocabulary, 4,096-token sequences. The chunks are
// compressed on every core and written raw, so 10 M tokens take minutes, not hours.
#include <cstdint>
#include <string>

namespace moescope::bench {

struct V3Shape {
    std::int64_t tokens = 1000000;
    int layers = 58, experts = 256, topK = 8;
    std::int64_t vocab = 129280;
    bool withCounts = false; // also write /layers/NAME/counts (the recorder's summary)
};

// Written to PATH.partial, then renamed: an interrupted run leaves no half dump.
void writeV3Dump(const std::string &path, const V3Shape &shape);

} // namespace moescope::bench
