#include "support/DumpFixture.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <stdexcept>

namespace moescope::test {

namespace {

void check(herr_t status, const char *what)
{
    if (status < 0)
        throw std::runtime_error(std::string("fixture: HDF5 call failed: ") + what);
}

hid_t check(hid_t id, const char *what)
{
    if (id < 0)
        throw std::runtime_error(std::string("fixture: HDF5 call failed: ") + what);
    return id;
}

hid_t integerType(const StorageOptions &s)
{
    hid_t base;
    switch (s.idBits) {
    case 8: base = s.idsUnsigned ? H5T_STD_U8LE : H5T_STD_I8LE; break;
    case 16: base = s.idsUnsigned ? H5T_STD_U16LE : H5T_STD_I16LE; break;
    case 32: base = s.idsUnsigned ? H5T_STD_U32LE : H5T_STD_I32LE; break;
    default: base = s.idsUnsigned ? H5T_STD_U64LE : H5T_STD_I64LE; break;
    }
    hid_t t = H5Tcopy(base);
    H5Tset_order(t, s.bigEndian ? H5T_ORDER_BE : H5T_ORDER_LE);
    return t;
}

hid_t halfType(bool bigEndian)
{
    hid_t t = H5Tcopy(H5T_IEEE_F32LE);
    H5Tset_fields(t, 15, 10, 5, 0, 10);
    H5Tset_size(t, 2);
    H5Tset_precision(t, 16);
    H5Tset_ebias(t, 15);
    H5Tset_order(t, bigEndian ? H5T_ORDER_BE : H5T_ORDER_LE);
    return t;
}

hid_t createProps(const StorageOptions &s, const std::vector<hsize_t> &dims)
{
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    if ((s.chunked || s.deflate || s.shuffle) && !dims.empty() && dims[0] > 0) {
        std::vector<hsize_t> chunk = dims;
        chunk[0] = std::max<hsize_t>(1, std::min<hsize_t>(dims[0], 7)); // odd size on purpose
        if (s.chunkColumns > 0 && chunk.size() == 2)
            chunk[1] = std::min<hsize_t>(chunk[1], hsize_t(s.chunkColumns));
        H5Pset_chunk(dcpl, int(chunk.size()), chunk.data());
        if (s.shuffle)
            H5Pset_shuffle(dcpl);
        if (s.deflate)
            H5Pset_deflate(dcpl, 4);
    }
    return dcpl;
}

void writeDataset(hid_t parent, const char *name, hid_t fileType, hid_t memType, const std::vector<hsize_t> &dims,
                  const void *data, const StorageOptions &s)
{
    hid_t space = H5Screate_simple(int(dims.size()), dims.data(), nullptr);
    hid_t dcpl = createProps(s, dims);
    hid_t ds = check(H5Dcreate2(parent, name, fileType, space, H5P_DEFAULT, dcpl, H5P_DEFAULT), name);
    std::size_t n = 1;
    for (hsize_t d : dims)
        n *= d;
    if (n)
        check(H5Dwrite(ds, memType, H5S_ALL, H5S_ALL, H5P_DEFAULT, data), name);
    H5Dclose(ds);
    H5Pclose(dcpl);
    H5Sclose(space);
}

void writeStrings(hid_t parent, const char *name, const std::vector<std::string> &values, const StorageOptions &s)
{
    const hsize_t n = values.size();
    hid_t type = H5Tcopy(H5T_C_S1);
    H5Tset_cset(type, H5T_CSET_UTF8);
    if (s.variableStrings) {
        H5Tset_size(type, H5T_VARIABLE);
        std::vector<const char *> ptrs;
        for (const auto &v : values)
            ptrs.push_back(v.c_str());
        writeDataset(parent, name, type, type, {n}, ptrs.data(), {});
    } else {
        std::size_t width = 1;
        for (const auto &v : values)
            width = std::max(width, v.size());
        H5Tset_size(type, width);
        H5Tset_strpad(type, H5T_STR_NULLPAD);
        std::vector<char> buffer(n * width, '\0');
        for (std::size_t i = 0; i < n; ++i)
            std::memcpy(buffer.data() + i * width, values[i].data(), values[i].size());
        writeDataset(parent, name, type, type, {n}, buffer.data(), {});
    }
    H5Tclose(type);
}

void writeIntegers(hid_t parent, const char *name, const std::vector<std::int64_t> &values,
                   const std::vector<hsize_t> &dims, const StorageOptions &s)
{
    hid_t type = integerType(s);
    writeDataset(parent, name, type, H5T_NATIVE_INT64, dims, values.data(), s);
    H5Tclose(type);
}

void numberAttribute(hid_t obj, const std::string &name, double value)
{
    hid_t space = H5Screate(H5S_SCALAR);
    const bool integral = value == double(std::int64_t(value));
    hid_t type = integral ? H5T_STD_I64LE : H5T_IEEE_F64LE;
    hid_t attr = H5Acreate2(obj, name.c_str(), type, space, H5P_DEFAULT, H5P_DEFAULT);
    if (integral) {
        const std::int64_t v = std::int64_t(value);
        H5Awrite(attr, H5T_NATIVE_INT64, &v);
    } else {
        H5Awrite(attr, H5T_NATIVE_DOUBLE, &value);
    }
    H5Aclose(attr);
    H5Sclose(space);
}

void stringAttribute(hid_t obj, const std::string &name, const std::string &value)
{
    hid_t space = H5Screate(H5S_SCALAR);
    hid_t type = H5Tcopy(H5T_C_S1);
    H5Tset_size(type, std::max<std::size_t>(1, value.size()));
    H5Tset_cset(type, H5T_CSET_UTF8);
    hid_t attr = H5Acreate2(obj, name.c_str(), type, space, H5P_DEFAULT, H5P_DEFAULT);
    H5Awrite(attr, type, value.c_str());
    H5Aclose(attr);
    H5Tclose(type);
    H5Sclose(space);
}

void writeLogits(hid_t group, const std::vector<float> &logits, hsize_t T, hsize_t E, const StorageOptions &s)
{
    if (s.floatBits == 16) {
        std::vector<std::uint16_t> halves(logits.size());
        for (std::size_t i = 0; i < logits.size(); ++i) {
            std::uint16_t h = floatToHalf(logits[i]);
            halves[i] = s.bigEndian ? std::uint16_t((h >> 8) | (h << 8)) : h;
        }
        hid_t type = halfType(s.bigEndian);
        writeDataset(group, "logits", type, type, {T, E}, halves.data(), s);
        H5Tclose(type);
    } else if (s.floatBits == 64) {
        std::vector<double> wide(logits.begin(), logits.end());
        writeDataset(group, "logits", s.bigEndian ? H5T_IEEE_F64BE : H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, {T, E},
                     wide.data(), s);
    } else {
        writeDataset(group, "logits", s.bigEndian ? H5T_IEEE_F32BE : H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, {T, E},
                     logits.data(), s);
    }
}

} // namespace

std::uint16_t floatToHalf(float f)
{
    std::uint32_t x;
    std::memcpy(&x, &f, 4);
    const std::uint16_t sign = std::uint16_t((x >> 16) & 0x8000u);
    const std::uint32_t absx = x & 0x7fffffffu;
    if (absx >= 0x7f800000u) // inf or NaN
        return std::uint16_t(sign | 0x7c00u | (absx > 0x7f800000u ? 0x200u : 0u));
    if (absx >= 0x477ff000u) // overflows to infinity
        return std::uint16_t(sign | 0x7c00u);
    if (absx < 0x38800000u) { // subnormal or zero
        float a;
        std::memcpy(&a, &absx, 4);
        return std::uint16_t(sign | std::uint16_t(std::nearbyint(a * 16777216.0f))); // a / 2^-24
    }
    const std::uint32_t mant = absx & 0x7fffffu;
    std::uint32_t h = ((absx >> 23) - 112) << 10 | (mant >> 13);
    const std::uint32_t rest = mant & 0x1fffu;
    if (rest > 0x1000u || (rest == 0x1000u && (h & 1u)))
        ++h;
    return std::uint16_t(sign | h);
}

void DumpFixture::write(const std::string &path, const StorageOptions &s) const
{
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
    hid_t file = check(H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT), "create file");
    auto omitted = [&](const std::string &name) { return std::find(omit.begin(), omit.end(), name) != omit.end(); };
    if (!omitted("format"))
        stringAttribute(file, "format", format);
    std::map<std::string, double> numbers = {{"format_version", 1}, {"num_experts", numExperts}, {"top_k", topK}};
    for (const auto &[k, v] : numberAttributes)
        numbers[k] = v;
    for (const auto &[k, v] : numbers)
        if (!omitted(k))
            numberAttribute(file, k, v);
    for (const auto &[k, v] : stringAttributes)
        if (!omitted(k))
            stringAttribute(file, k, v);

    const hsize_t T = tokenIds.size(), E = hsize_t(numExperts), K = hsize_t(topK);
    if (!omitted("tokens")) {
        hid_t tokens = H5Gcreate2(file, "tokens", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        if (!omitted("ids"))
            writeIntegers(tokens, "ids", tokenIds, {T}, s);
        if (!vocab.empty())
            writeStrings(tokens, "vocab", vocab, s);
        if (!sequenceOffsets.empty())
            writeIntegers(tokens, "sequence_offsets", sequenceOffsets, {sequenceOffsets.size()}, s);
        if (!sequenceLabels.empty())
            writeStrings(tokens, "sequence_labels", sequenceLabels, s);
        H5Gclose(tokens);
    }
    if (!omitted("layers")) {
        hid_t layersGroup = H5Gcreate2(file, "layers", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        for (const FixtureLayer &l : layers) {
            hid_t g = H5Gcreate2(layersGroup, l.name.c_str(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
            if (l.index)
                numberAttribute(g, "index", double(*l.index));
            if (!l.logits.empty())
                writeLogits(g, l.logits, l.logits.size() / E, E, s);
            if (!l.topkIds.empty())
                writeIntegers(g, "topk_ids", l.topkIds, {l.topkIds.size() / K, K}, s);
            if (!l.topkWeights.empty())
                writeDataset(g, "topk_weights", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, {l.topkWeights.size() / K, K},
                             l.topkWeights.data(), s);
            if (!l.expertBias.empty())
                writeDataset(g, "expert_bias", H5T_IEEE_F32LE, H5T_NATIVE_DOUBLE, {l.expertBias.size()},
                             l.expertBias.data(), {});
            if (!l.counts.empty())
                writeIntegers(g, "counts", l.counts, {l.counts.size()}, s);
            if (!l.floatCounts.empty())
                writeDataset(g, "counts", H5T_IEEE_F32LE, H5T_NATIVE_DOUBLE, {l.floatCounts.size()},
                             l.floatCounts.data(), {});
            H5Gclose(g);
        }
        H5Gclose(layersGroup);
    }
    if (!trainingSteps.empty()) {
        hid_t g = H5Gcreate2(file, "training", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        const hsize_t N = trainingSteps.size(), L = layers.size();
        writeIntegers(g, "step", trainingSteps, {N}, s);
        if (!trainingLb.empty())
            writeDataset(g, "lb_loss", H5T_IEEE_F32LE, H5T_NATIVE_DOUBLE, {N, L}, trainingLb.data(), s);
        if (!trainingZ.empty())
            writeDataset(g, "z_loss", H5T_IEEE_F32LE, H5T_NATIVE_DOUBLE, {N, L}, trainingZ.data(), s);
        if (!trainingTokens.empty())
            writeIntegers(g, "tokens_per_expert", trainingTokens, {N, L, E}, s);
        H5Gclose(g);
    }
    H5Fclose(file);
}

DumpFixture randomFixture(int tokens, int experts, int topK, int layers, unsigned seed)
{
    std::mt19937 rng(seed);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    DumpFixture f;
    f.numExperts = experts;
    f.topK = topK;
    const int vocabSize = 40;
    for (int v = 0; v < vocabSize; ++v)
        f.vocab.push_back("tok" + std::to_string(v));
    std::uniform_int_distribution<int> pick(0, vocabSize - 1);
    for (int t = 0; t < tokens; ++t)
        f.tokenIds.push_back(pick(rng));
    for (int l = 0; l < layers; ++l) {
        FixtureLayer layer;
        layer.name = "layer" + std::to_string(l);
        layer.index = l;
        layer.logits.resize(std::size_t(tokens) * experts);
        for (int t = 0; t < tokens; ++t)
            for (int e = 0; e < experts; ++e)
                // Token-dependent bias so experts specialise a little, as real ones do.
                layer.logits[std::size_t(t) * experts + e] =
                    normal(rng) + ((f.tokenIds[t] + l) % experts == e ? 1.5f : 0.0f);
        f.layers.push_back(std::move(layer));
    }
    return f;
}

} // namespace moescope::test
