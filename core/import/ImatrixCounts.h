#pragma once
// llama.cpp's importance matrix (tools/imatrix, GGUF output with `general.type` =
// "imatrix") read for its per-expert token counts: for each MoE layer N the tensor
// `blk.N.ffn_gate_exps.weight.counts` (F32, one value per expert: the tokens routed to
// it while the matrix was collected). The up and down projections carry the same
// counts; they are read only where the gate's are missing.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace moescope::import {

struct ImatrixCounts {
    int numExperts = 0;
    std::map<int, std::vector<double>> layers;  // layer N -> counts [E]
    std::string tensorKind;                     // "ffn_gate_exps", or the fallback read
    std::vector<std::string> datasets;          // imatrix.datasets
    std::int64_t chunkCount = 0, chunkSize = 0; // imatrix.chunk_count / chunk_size (0: absent)
    std::uint32_t ggufVersion = 0;
};

// DumpError naming the file, the key or tensor, and the problem.
ImatrixCounts readImatrixCounts(const std::string &path);

// Whether the file starts with the GGUF magic (cheap: reads 4 bytes).
bool looksLikeGguf(const std::string &path);

} // namespace moescope::import
