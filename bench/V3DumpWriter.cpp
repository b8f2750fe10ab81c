#include "V3DumpWriter.h"

#include "BenchDump.h"

#include <hdf5.h>
#include <libdeflate.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <numeric>
#include <stdexcept>
#include <thread>
#include <vector>

namespace moescope::bench {

namespace {

constexpr hsize_t kChunkRows = 65536;

struct Rng { // xorshift64*: fast, and the same data on every run
    std::uint64_t state;
    std::uint64_t next()
    {
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        return state * 0x2545f4914f6cdd1dull;
    }
    double uniform() { return double(next() >> 11) / 9007199254740992.0; }
};

// What HDF5's shuffle + deflate filters would store for one chunk: bytes regrouped by
// significance, then zlib level 1. Done here, on every core, then written raw.
std::vector<unsigned char> compressChunk(const void *data, std::size_t elements, std::size_t width,
                                         libdeflate_compressor *compressor)
{
    const auto *in = static_cast<const unsigned char *>(data);
    std::vector<unsigned char> shuffled(elements * width);
    for (std::size_t b = 0; b < width; ++b)
        for (std::size_t i = 0; i < elements; ++i)
            shuffled[b * elements + i] = in[i * width + b];
    std::vector<unsigned char> out(libdeflate_zlib_compress_bound(compressor, shuffled.size()));
    const std::size_t n = libdeflate_zlib_compress(compressor, shuffled.data(), shuffled.size(), out.data(), out.size());
    check(n > 0, "compressing a chunk");
    out.resize(n);
    return out;
}

hid_t chunkedDataset(hid_t group, const char *name, hid_t type, hsize_t rows, hsize_t cols)
{
    const hsize_t dims[2] = {rows, cols}, chunk[2] = {std::min(kChunkRows, rows), cols};
    const hid_t space = H5Screate_simple(cols ? 2 : 1, dims, nullptr);
    const hid_t plist = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_chunk(plist, cols ? 2 : 1, chunk);
    H5Pset_shuffle(plist);
    H5Pset_deflate(plist, 1);
    const hid_t ds = H5Dcreate2(group, name, type, space, H5P_DEFAULT, plist, H5P_DEFAULT);
    check(ds >= 0, name);
    H5Pclose(plist);
    H5Sclose(space);
    return ds;
}

// One layer's router: a popularity per expert (a few hot, a long tail), drawn from by
// an alias table; k distinct experts per token, weights best first summing to one.
struct LayerRouter {
    std::vector<double> probability;
    std::vector<int> alias;

    LayerRouter(int experts, Rng &rng)
    {
        std::vector<double> w(static_cast<std::size_t>(experts));
        for (int e = 0; e < experts; ++e)
            w[std::size_t(e)] = 1.0 / std::pow(double(e + 1), 0.6) * (0.5 + rng.uniform());
        for (int e = experts - 1; e > 0; --e) // hot experts at random ids
            std::swap(w[std::size_t(e)], w[rng.next() % std::uint64_t(e + 1)]);
        const double total = std::accumulate(w.begin(), w.end(), 0.0);
        probability.assign(w.size(), 0);
        alias.assign(w.size(), 0);
        std::vector<int> small, large;
        std::vector<double> scaled(w.size());
        for (std::size_t e = 0; e < w.size(); ++e) {
            scaled[e] = w[e] * double(experts) / total;
            (scaled[e] < 1 ? small : large).push_back(int(e));
        }
        while (!small.empty() && !large.empty()) { // Vose's alias method
            const int s = small.back(), l = large.back();
            small.pop_back();
            probability[std::size_t(s)] = scaled[std::size_t(s)];
            alias[std::size_t(s)] = l;
            scaled[std::size_t(l)] -= 1 - scaled[std::size_t(s)];
            if (scaled[std::size_t(l)] < 1) {
                large.pop_back();
                small.push_back(l);
            }
        }
        for (int e : small)
            probability[std::size_t(e)] = 1;
        for (int e : large)
            probability[std::size_t(e)] = 1;
    }

    int draw(Rng &rng) const
    {
        const std::uint64_t r = rng.next();
        const auto e = std::size_t((r >> 32) % probability.size());
        return double(r & 0xffffffffu) / 4294967296.0 < probability[e] ? int(e) : alias[e];
    }
};

void writeLayer(hid_t layers, int l, const V3Shape &shape, std::uint64_t seed)
{
    char name[16];
    std::snprintf(name, sizeof name, "%02d", l + 3);
    const hid_t g = H5Gcreate2(layers, name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    check(g >= 0, "a layer group");
    integerAttribute(g, "index", l + 3); // DeepSeek-V3's first three layers are dense
    const hid_t half = halfType();
    const hid_t ids = chunkedDataset(g, "topk_ids", H5T_STD_I16LE, hsize_t(shape.tokens), hsize_t(shape.topK));
    const hid_t weights = chunkedDataset(g, "topk_weights", half, hsize_t(shape.tokens), hsize_t(shape.topK));
    Rng layerRng{seed * 0x9e3779b97f4a7c15ull + std::uint64_t(l) + 1};
    const LayerRouter router(shape.experts, layerRng);
    std::vector<std::int64_t> counts(std::size_t(shape.experts), 0);

    const hsize_t chunks = (hsize_t(shape.tokens) + kChunkRows - 1) / kChunkRows;
    const unsigned threads = std::max(1u, std::thread::hardware_concurrency());
    for (hsize_t first = 0; first < chunks; first += threads) {
        const hsize_t batch = std::min<hsize_t>(threads, chunks - first);
        std::vector<std::vector<unsigned char>> idBytes(batch), weightBytes(batch);
        std::vector<std::vector<std::int64_t>> batchCounts(batch, std::vector<std::int64_t>(counts.size(), 0));
        std::vector<std::thread> workers;
        for (hsize_t b = 0; b < batch; ++b)
            workers.emplace_back([&, b] {
                const hsize_t chunk = first + b, begin = chunk * kChunkRows;
                const hsize_t rows = std::min<hsize_t>(kChunkRows, hsize_t(shape.tokens) - begin);
                Rng rng{(seed + 1) * 0x2545f4914f6cdd1dull ^ (std::uint64_t(l) << 40) ^ chunk};
                const std::size_t k = std::size_t(shape.topK);
                std::vector<std::int16_t> chosen(kChunkRows * k, 0); // a short last chunk is padded
                std::vector<std::uint16_t> gates(kChunkRows * k, 0);
                std::vector<float> w(k);
                for (hsize_t t = 0; t < rows; ++t) {
                    std::int16_t *row = chosen.data() + t * k;
                    for (std::size_t j = 0; j < k; ++j) {
                        int e;
                        do
                            e = router.draw(rng);
                        while (std::find(row, row + j, std::int16_t(e)) != row + j);
                        row[j] = std::int16_t(e);
                        ++batchCounts[b][std::size_t(e)];
                    }
                    float sum = 0;
                    for (auto &x : w)
                        sum += (x = float(-std::log(rng.uniform() + 1e-12)));
                    std::sort(w.begin(), w.end(), std::greater<>());
                    for (std::size_t j = 0; j < k; ++j)
                        gates[t * k + j] = toHalf(w[j] / sum);
                }
                libdeflate_compressor *c = libdeflate_alloc_compressor(1);
                idBytes[b] = compressChunk(chosen.data(), chosen.size(), 2, c);
                weightBytes[b] = compressChunk(gates.data(), gates.size(), 2, c);
                libdeflate_free_compressor(c);
            });
        for (auto &w : workers)
            w.join();
        for (hsize_t b = 0; b < batch; ++b) {
            const hsize_t offset[2] = {(first + b) * kChunkRows, 0};
            check(H5Dwrite_chunk(ids, H5P_DEFAULT, 0, offset, idBytes[b].size(), idBytes[b].data()) >= 0, "ids chunk");
            check(H5Dwrite_chunk(weights, H5P_DEFAULT, 0, offset, weightBytes[b].size(), weightBytes[b].data()) >= 0,
                  "weights chunk");
            for (std::size_t e = 0; e < counts.size(); ++e)
                counts[e] += batchCounts[b][e];
        }
    }
    if (shape.withCounts) { // the summary a recorder writes beside the choices
        const hsize_t dims[1] = {hsize_t(shape.experts)};
        const hid_t space = H5Screate_simple(1, dims, nullptr);
        const hid_t ds = H5Dcreate2(g, "counts", H5T_STD_I64LE, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        check(ds >= 0 && H5Dwrite(ds, H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, counts.data()) >= 0, "counts");
        H5Dclose(ds);
        H5Sclose(space);
    }
    H5Dclose(ids);
    H5Dclose(weights);
    H5Tclose(half);
    H5Gclose(g);
}

void writeTokens(hid_t file, const V3Shape &shape)
{
    const hid_t tokens = H5Gcreate2(file, "tokens", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    Rng rng{0x51ed27a1u};
    std::vector<std::int32_t> ids(std::size_t(shape.tokens));
    for (auto &id : ids) // Zipf-like: frequent tokens, a long tail
        id = std::int32_t(std::pow(rng.uniform(), 3.0) * double(shape.vocab));
    const hsize_t n = hsize_t(shape.tokens);
    const hsize_t chunk[1] = {std::min<hsize_t>(n, 1 << 20)};
    hid_t space = H5Screate_simple(1, &n, nullptr);
    hid_t plist = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_chunk(plist, 1, chunk);
    H5Pset_deflate(plist, 1);
    hid_t ds = H5Dcreate2(tokens, "ids", H5T_STD_I32LE, space, H5P_DEFAULT, plist, H5P_DEFAULT);
    check(ds >= 0 && H5Dwrite(ds, H5T_NATIVE_INT32, H5S_ALL, H5S_ALL, H5P_DEFAULT, ids.data()) >= 0, "token ids");
    H5Dclose(ds);
    H5Pclose(plist);
    H5Sclose(space);

    std::vector<std::string> text(std::size_t(shape.vocab));
    std::vector<const char *> pointers(text.size());
    for (std::size_t v = 0; v < text.size(); ++v) {
        text[v] = "tok" + std::to_string(v);
        pointers[v] = text[v].c_str();
    }
    const hsize_t v = hsize_t(shape.vocab);
    const hid_t str = H5Tcopy(H5T_C_S1);
    H5Tset_size(str, H5T_VARIABLE);
    H5Tset_cset(str, H5T_CSET_UTF8);
    space = H5Screate_simple(1, &v, nullptr);
    ds = H5Dcreate2(tokens, "vocab", str, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    check(ds >= 0 && H5Dwrite(ds, str, H5S_ALL, H5S_ALL, H5P_DEFAULT, pointers.data()) >= 0, "vocab");
    H5Dclose(ds);
    H5Sclose(space);
    H5Tclose(str);

    std::vector<std::int64_t> offsets;
    for (std::int64_t at = 0; at < shape.tokens; at += 4096)
        offsets.push_back(at);
    offsets.push_back(shape.tokens);
    const hsize_t s = offsets.size();
    space = H5Screate_simple(1, &s, nullptr);
    ds = H5Dcreate2(tokens, "sequence_offsets", H5T_STD_I64LE, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    check(ds >= 0 && H5Dwrite(ds, H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, offsets.data()) >= 0, "offsets");
    H5Dclose(ds);
    H5Sclose(space);
    H5Gclose(tokens);
}

} // namespace

void writeV3Dump(const std::string &path, const V3Shape &shape)
{
    const auto start = std::chrono::steady_clock::now();
    std::printf("writing %s (%lld tokens x %d layers x %d experts, top-%d) ...\n", path.c_str(),
                static_cast<long long>(shape.tokens), shape.layers, shape.experts, shape.topK);
    std::fflush(stdout);
    const std::string partial = path + ".partial";
    const hid_t file = H5Fcreate(partial.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    check(file >= 0, "H5Fcreate");
    stringAttribute(file, "format", "moe-routing");
    integerAttribute(file, "format_version", 1);
    integerAttribute(file, "num_experts", shape.experts);
    integerAttribute(file, "top_k", shape.topK);
    stringAttribute(file, "scoring", "sigmoid");
    stringAttribute(file, "model", "benchmark (DeepSeek-V3-shaped: 256 experts, top-8, 58 MoE layers)");
    writeTokens(file, shape);
    const hid_t layers = H5Gcreate2(file, "layers", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    for (int l = 0; l < shape.layers; ++l)
        writeLayer(layers, l, shape, 7);
    H5Gclose(layers);
    check(H5Fclose(file) >= 0, "H5Fclose");
    check(std::rename(partial.c_str(), path.c_str()) == 0, "renaming the finished dump");
    std::printf("written in %.1f s\n",
                std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
}

} // namespace moescope::bench
