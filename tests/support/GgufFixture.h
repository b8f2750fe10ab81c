#pragma once
// A GGUF writer for the tests, following the GGUF spec (ggml docs/gguf.md) the way
// llama.cpp's gguf_write_to_file lays a file out: the header (magic "GGUF", version,
// tensor count, key-value count), the key-value pairs, the tensor table (name, number
// of dimensions, ne[0..], ggml type, offset relative to the data), zero padding to the
// alignment, then each tensor's data padded to the alignment. llama-imatrix writes
// `general.type` = "imatrix", `imatrix.datasets` (string array), `imatrix.chunk_count`
// and `imatrix.chunk_size` (uint32), and for every matrix NAME the F32 tensors
// NAME.in_sum2 [n_per_row, n_mat] and NAME.counts [1, n_mat], in name order.
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

namespace moescope::test {

struct GgufKv {
    std::string key;
    std::uint32_t type = 8; // 4: uint32, 8: string, 9: array of strings
    std::string text;
    std::uint32_t u32 = 0;
    std::vector<std::string> strings;
};

struct GgufFixtureTensor {
    std::string name;
    std::vector<std::uint64_t> dims; // ne[0], ne[1], ...
    std::vector<float> values;       // F32 data
};

struct GgufFixture {
    std::uint32_t version = 3;
    std::uint64_t alignment = 32; // written as general.alignment only when writeAlignment
    bool writeAlignment = false;
    std::vector<GgufKv> kvs;
    std::vector<GgufFixtureTensor> tensors;

    std::string bytes() const
    {
        std::string out = "GGUF";
        const auto put = [&](std::uint64_t v, int width) {
            for (int i = 0; i < width; ++i)
                out += char((v >> (8 * i)) & 0xFF);
        };
        const auto str = [&](const std::string &s) {
            put(s.size(), 8);
            out += s;
        };
        put(version, 4);
        put(tensors.size(), 8);
        put(kvs.size() + (writeAlignment ? 1 : 0), 8);
        for (const GgufKv &kv : kvs) {
            str(kv.key);
            put(kv.type, 4);
            if (kv.type == 8)
                str(kv.text);
            else if (kv.type == 4)
                put(kv.u32, 4);
            else {
                put(8, 4);
                put(kv.strings.size(), 8);
                for (const std::string &s : kv.strings)
                    str(s);
            }
        }
        if (writeAlignment) {
            str("general.alignment");
            put(4, 4);
            put(alignment, 4);
        }
        std::uint64_t offset = 0;
        for (const GgufFixtureTensor &t : tensors) {
            // ggml_n_dims: trailing dimensions of 1 are not written (at least one is).
            std::size_t dims = t.dims.size();
            while (dims > 1 && t.dims[dims - 1] == 1)
                --dims;
            str(t.name);
            put(dims, 4);
            for (std::size_t d = 0; d < dims; ++d)
                put(t.dims[d], 8);
            put(0, 4); // GGML_TYPE_F32
            put(offset, 8);
            offset += padded(4 * t.values.size());
        }
        out.append(padded(out.size()) - out.size(), '\0');
        for (const GgufFixtureTensor &t : tensors) {
            for (float v : t.values) {
                std::uint32_t bits;
                std::memcpy(&bits, &v, 4);
                put(bits, 4);
            }
            out.append(padded(4 * t.values.size()) - 4 * t.values.size(), '\0');
        }
        return out;
    }

    void write(const std::string &path) const { std::ofstream(path, std::ios::binary) << bytes(); }

    std::uint64_t padded(std::uint64_t n) const { return (n + alignment - 1) / alignment * alignment; }
};

// An imatrix as llama-imatrix writes it: per-layer expert counts for the three expert
// projections, and per-layer attention matrices with a single count.
inline GgufFixture imatrixFixture(const std::vector<std::vector<float>> &countsPerLayer, std::uint32_t chunks,
                                  std::uint32_t chunkSize, std::uint64_t rowLength = 4)
{
    GgufFixture f;
    f.kvs.push_back({"general.type", 8, "imatrix", 0, {}});
    f.kvs.push_back({"imatrix.datasets", 9, "", 0, {"wiki.train.raw"}});
    f.kvs.push_back({"imatrix.chunk_count", 4, "", chunks, {}});
    f.kvs.push_back({"imatrix.chunk_size", 4, "", chunkSize, {}});
    std::vector<std::string> names;
    for (std::size_t l = 0; l < countsPerLayer.size(); ++l) {
        names.push_back("blk." + std::to_string(l) + ".attn_q.weight");
        for (const char *p : {"ffn_down_exps", "ffn_gate_exps", "ffn_up_exps"})
            names.push_back("blk." + std::to_string(l) + "." + p + ".weight");
    }
    std::sort(names.begin(), names.end()); // llama-imatrix stores entries in name order
    for (const std::string &n : names) {
        const int layer = std::stoi(n.substr(4, n.find('.', 4) - 4));
        const bool experts = n.find("_exps") != std::string::npos;
        std::vector<float> counts =
            experts ? countsPerLayer[std::size_t(layer)] : std::vector<float>{float(chunks * chunkSize)};
        GgufFixtureTensor sums{n + ".in_sum2", {rowLength, counts.size()}, {}};
        for (std::size_t i = 0; i < rowLength * counts.size(); ++i)
            sums.values.push_back(0.5f + float(i));
        f.tensors.push_back(sums);
        f.tensors.push_back({n + ".counts", {1, counts.size()}, counts});
    }
    return f;
}

} // namespace moescope::test
