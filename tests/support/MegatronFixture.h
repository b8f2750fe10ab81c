#pragma once
// Megatron-Core's trace files as Megatron writes them, for the importer tests: the
// router trace (router_trace.py: one `json.dumps(record)` line per router call, keys in
// the order the tracer fills its dict, `top_indices` last; logits appended to
// logits_rank{R}.bin as raw little-endian bfloat16) and the tokens-per-expert log
// (activation_logging.py: {"iter", "block", ["mtp_idx"], "layer", "tpe"}). Python's
// json.dumps separates with ", " and ": ", which this writer copies byte for byte.
#include <cstdint>
#include <cstring>
#include <fstream>
#include <map>
#include <string>
#include <vector>

namespace moescope::test {

// bfloat16 bits of a float, rounded to nearest even (torch's float -> bfloat16).
inline std::uint16_t floatToBf16(float f)
{
    std::uint32_t bits;
    std::memcpy(&bits, &f, 4);
    const std::uint32_t rounding = 0x7FFF + ((bits >> 16) & 1);
    return std::uint16_t((bits + rounding) >> 16);
}

inline float bf16ToFloat(std::uint16_t h)
{
    const std::uint32_t bits = std::uint32_t(h) << 16;
    float f;
    std::memcpy(&f, &bits, 4);
    return f;
}

inline std::string jsonRows(const std::vector<std::vector<std::int64_t>> &rows)
{
    std::string s = "[";
    for (std::size_t r = 0; r < rows.size(); ++r) {
        s += r ? ", [" : "[";
        for (std::size_t i = 0; i < rows[r].size(); ++i)
            s += (i ? ", " : "") + std::to_string(rows[r][i]);
        s += "]";
    }
    return s + "]";
}

// One router call of one rank.
struct TraceCall {
    std::int64_t step = 0;
    std::string block = "decoder";
    std::int64_t layer = 0;
    std::int64_t mtpIdx = -1;
    int rank = 0;
    std::vector<std::vector<std::int64_t>> topIndices; // [num_tokens][topk]
    std::vector<float> logits;                         // [num_tokens * E]; empty: none captured
    int numExperts = 0;                                // E of the logits
    std::int64_t topk() const { return topIndices.empty() ? 0 : std::int64_t(topIndices[0].size()); }
};

// Appends the calls, in order, to router_trace_rank{R}.jsonl (and logits_rank{R}.bin)
// in `dir`, as RouterTracer does (files truncated first, like its constructor).
inline void writeRouterTrace(const std::string &dir, const std::vector<TraceCall> &calls, int topkOverride = -1)
{
    std::map<int, std::ofstream> jsonl, bin;
    std::map<int, std::int64_t> offsets;
    for (const TraceCall &c : calls) {
        if (!jsonl.count(c.rank))
            jsonl[c.rank].open(dir + "/router_trace_rank" + std::to_string(c.rank) + ".jsonl", std::ios::trunc);
        std::string line = "{\"step\": " + std::to_string(c.step) + ", \"stage\": \"pre_dispatch\", \"block\": \"" +
                           c.block + "\", \"layer\": " + std::to_string(c.layer) + ", \"rank\": " +
                           std::to_string(c.rank) + ", \"num_tokens\": " + std::to_string(c.topIndices.size()) +
                           ", \"topk\": " + std::to_string(topkOverride >= 0 ? topkOverride : c.topk());
        if (c.mtpIdx >= 0)
            line += ", \"mtp_idx\": " + std::to_string(c.mtpIdx);
        if (!c.logits.empty()) {
            if (!bin.count(c.rank))
                bin[c.rank].open(dir + "/logits_rank" + std::to_string(c.rank) + ".bin", std::ios::binary | std::ios::trunc);
            const std::int64_t bytes = std::int64_t(c.logits.size()) * 2;
            for (float z : c.logits) {
                const std::uint16_t h = floatToBf16(z);
                const char le[2] = {char(h & 0xFF), char(h >> 8)};
                bin[c.rank].write(le, 2);
            }
            line += ", \"logit_offset\": " + std::to_string(offsets[c.rank]) + ", \"logit_bytes\": " +
                    std::to_string(bytes) + ", \"logit_shape\": [" + std::to_string(c.topIndices.size()) + ", " +
                    std::to_string(c.numExperts) + "]";
            offsets[c.rank] += bytes;
        }
        line += ", \"top_indices\": " + jsonRows(c.topIndices) + "}\n";
        jsonl[c.rank] << line;
    }
}

// One line of the tokens-per-expert log of one rank.
struct TpeLine {
    int rank = 0;
    std::int64_t iter = 0;
    std::string block = "decoder";
    std::int64_t mtpIdx = -1;
    std::int64_t layer = 0;
    std::vector<std::vector<std::int64_t>> tpe; // [microbatch][local expert]
};

inline void writeTpeLog(const std::string &tpeDir, const std::vector<TpeLine> &lines)
{
    std::map<int, std::ofstream> files;
    for (const TpeLine &l : lines) {
        if (!files.count(l.rank))
            files[l.rank].open(tpeDir + "/rank" + std::to_string(l.rank) + ".jsonl", std::ios::trunc);
        std::string line = "{\"iter\": " + std::to_string(l.iter) + ", \"block\": \"" + l.block + "\", ";
        if (l.mtpIdx >= 0)
            line += "\"mtp_idx\": " + std::to_string(l.mtpIdx) + ", ";
        line += "\"layer\": " + std::to_string(l.layer) + ", \"tpe\": " + jsonRows(l.tpe) + "}\n";
        files[l.rank] << line;
    }
}

} // namespace moescope::test
