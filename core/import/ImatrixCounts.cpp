#include "import/ImatrixCounts.h"

#include "import/GgufFile.h"
#include "io/DumpError.h"

#include <cmath>
#include <cstdio>
#include <cstring>
#include <regex>

namespace moescope::import {

bool looksLikeGguf(const std::string &path)
{
    std::FILE *f = std::fopen(path.c_str(), "rb");
    if (!f)
        return false;
    char magic[4] = {};
    const bool ok = std::fread(magic, 1, 4, f) == 4 && std::memcmp(magic, "GGUF", 4) == 0;
    std::fclose(f);
    return ok;
}

ImatrixCounts readImatrixCounts(const std::string &path)
{
    const GgufFile gguf(path);
    ImatrixCounts out;
    out.ggufVersion = gguf.version();
    const GgufValue *type = gguf.value("general.type");
    if (!type || type->type != 8 || type->text != "imatrix")
        throw DumpError(path, "key 'general.type'",
                        type ? "is '" + type->text + "', not 'imatrix': this GGUF is not an importance matrix"
                             : "is missing: this GGUF is not an importance matrix from llama-imatrix");
    if (const GgufValue *d = gguf.value("imatrix.datasets"))
        out.datasets = d->strings;
    if (const GgufValue *v = gguf.value("imatrix.chunk_count"))
        out.chunkCount = v->integer;
    if (const GgufValue *v = gguf.value("imatrix.chunk_size"))
        out.chunkSize = v->integer;

    static const std::regex name(R"(blk\.(\d+)\.(ffn_gate_exps|ffn_up_exps|ffn_down_exps)\.weight\.counts)");
    // Per layer, the first of gate, up, down that is present.
    std::map<int, std::pair<int, const GgufTensor *>> chosen;
    for (const GgufTensor &t : gguf.tensors()) {
        std::smatch m;
        if (!std::regex_match(t.name, m, name))
            continue;
        if (m[1].length() > 6) // std::stoi would throw past int; no model has a million layers
            throw DumpError(path, "tensor '" + t.name + "'", "names layer " + m[1].str() + ", too large a number");
        const int layer = std::stoi(m[1].str());
        const int rank = m[2] == "ffn_gate_exps" ? 0 : m[2] == "ffn_up_exps" ? 1 : 2;
        const auto it = chosen.find(layer);
        if (it == chosen.end() || rank < it->second.first)
            chosen[layer] = {rank, &t};
    }
    if (chosen.empty())
        throw DumpError(path, "",
                        "holds no expert counts (no tensor blk.N.ffn_gate_exps.weight.counts): "
                        "the matrix was not collected on a mixture-of-experts model");
    static const char *const kinds[] = {"ffn_gate_exps", "ffn_up_exps", "ffn_down_exps"};
    for (const auto &[layer, entry] : chosen) {
        const GgufTensor &t = *entry.second;
        const std::vector<float> values = gguf.f32(t);
        if (out.numExperts == 0)
            out.numExperts = int(values.size());
        if (int(values.size()) != out.numExperts)
            throw DumpError(path, "tensor '" + t.name + "'",
                            "has " + std::to_string(values.size()) + " counts, earlier layers " +
                                std::to_string(out.numExperts) + ": the layers disagree on E");
        std::vector<double> counts(values.begin(), values.end());
        for (std::size_t e = 0; e < counts.size(); ++e)
            if (!std::isfinite(counts[e]) || counts[e] < 0)
                throw DumpError(path, "tensor '" + t.name + "'",
                                "count of expert " + std::to_string(e) + " is " + std::to_string(counts[e]) +
                                    " (counts are finite and non-negative)");
        out.layers[layer] = std::move(counts);
        if (out.tensorKind.empty() || entry.first > 0)
            out.tensorKind = kinds[entry.first];
    }
    return out;
}

} // namespace moescope::import
