// moescope-fuzz-seeds OUTDIR: writes the seed corpora of the fuzz targets from the
// test fixtures: OUTDIR/dump (small dumps in every storage variant the spec allows),
// OUTDIR/runlog (run logs, ordinary and SWMR-style), OUTDIR/chunk (compressed chunks
// with the 8-byte layout header ChunkEntry.cpp reads), and one folder per importer
// target (ImportEntry.cpp): Megatron trace and tokens-per-expert lines, .npy/.npz,
// vLLM JSON, GGUF imatrix files. Kept small (a few KB
// each) so that the committed corpora stay small; regenerate them with this program
// when the fixtures or the format change (tests/fuzz/README.md).
#include "support/DumpFixture.h"
#include "support/GgufFixture.h"
#include "support/MegatronFixture.h"
#include "support/NpyFixture.h"

#include <libdeflate.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

namespace fs = std::filesystem;
using namespace moescope::test;

namespace {

DumpFixture small(unsigned seed, int layers = 2)
{
    DumpFixture f = randomFixture(8, 4, 2, layers, seed);
    return f;
}

void writeDumps(const fs::path &dir)
{
    fs::create_directories(dir);
    small(1).write(dir / "f32-contiguous.h5");
    StorageOptions half;
    half.floatBits = 16;
    small(2).write(dir / "f16.h5", half);
    StorageOptions wide;
    wide.floatBits = 64;
    wide.bigEndian = true;
    wide.idBits = 16;
    small(3).write(dir / "f64-big-endian.h5", wide);
    StorageOptions gzip;
    gzip.deflate = true;
    gzip.shuffle = true;
    small(4).write(dir / "gzip-shuffle.h5", gzip);
    StorageOptions columns = gzip;
    columns.chunkColumns = 2;
    columns.floatBits = 16;
    small(5).write(dir / "gzip-column-chunks.h5", columns);

    DumpFixture choices = small(6, 1);
    for (int t = 0; t < 8; ++t) {
        choices.layers[0].topkIds.insert(choices.layers[0].topkIds.end(), {t % 4, (t + 1) % 4});
        choices.layers[0].topkWeights.insert(choices.layers[0].topkWeights.end(), {0.6f, 0.4f});
    }
    choices.layers[0].expertBias = {0.1, -0.1, 0.0, 0.2};
    choices.sequenceOffsets = {0, 3, 8};
    choices.sequenceLabels = {"python", "english"};
    choices.stringAttributes["scoring"] = "sigmoid";
    choices.numberAttributes["n_group"] = 2;
    choices.numberAttributes["topk_group"] = 1;
    StorageOptions fixed;
    fixed.variableStrings = false;
    fixed.idBits = 8;
    fixed.idsUnsigned = true;
    choices.write(dir / "choices-fixed-strings.h5", fixed);
    StorageOptions chunkedIds;
    chunkedIds.deflate = true;
    chunkedIds.idBits = 32;
    choices.write(dir / "choices-gzip.h5", chunkedIds);

    DumpFixture loadOnly;
    loadOnly.numExperts = 4;
    loadOnly.topK = 2;
    loadOnly.numberAttributes["num_tokens"] = 100;
    loadOnly.omit = {"tokens"};
    FixtureLayer counts;
    counts.name = "00";
    counts.counts = {60, 50, 40, 50};
    loadOnly.layers.push_back(counts);
    loadOnly.write(dir / "load-only.h5");

    DumpFixture training = small(7, 2);
    training.trainingSteps = {10, 20, 30};
    training.trainingLb.assign(3 * 2, 1.01);
    training.trainingZ.assign(3 * 2, 0.5);
    training.trainingTokens.assign(3 * 2 * 4, 4);
    training.write(dir / "training.h5");
}

void writeRunLogs(const fs::path &dir)
{
    fs::create_directories(dir);
    DumpFixture log = small(8, 2);
    log.trainingSteps = {1, 2, 3, 4};
    log.trainingLb = {1.0, 1.1, 1.0, 1.2, 1.1, 1.0, 1.3, 1.0};
    log.trainingZ.assign(8, 0.25);
    for (int i = 0; i < 4 * 2 * 4; ++i)
        log.trainingTokens.push_back(90 + i % 20);
    log.write(dir / "runlog.h5");
    StorageOptions chunked;
    chunked.deflate = true;
    log.write(dir / "runlog-gzip.h5", chunked);
}

// One chunk entry: the layout header, then `values` as stored after the filters.
void writeChunk(const fs::path &file, unsigned char elementSize, unsigned char rows, unsigned char columns,
                bool shuffle, bool deflate, std::mt19937 &rng)
{
    const std::size_t n = std::size_t(rows) * columns * elementSize;
    std::vector<unsigned char> values(n);
    for (auto &v : values)
        v = (unsigned char)(rng() % 7); // compressible, like real logits' exponents
    std::vector<unsigned char> stored = values;
    if (shuffle) {
        const std::size_t count = n / elementSize;
        for (std::size_t e = 0; e < count; ++e)
            for (std::size_t b = 0; b < elementSize; ++b)
                stored[b * count + e] = values[e * elementSize + b];
    }
    if (deflate) {
        libdeflate_compressor *c = libdeflate_alloc_compressor(6);
        std::vector<unsigned char> packed(libdeflate_zlib_compress_bound(c, n));
        packed.resize(libdeflate_zlib_compress(c, stored.data(), n, packed.data(), packed.size()));
        libdeflate_free_compressor(c);
        stored = packed;
    }
    // Header (ChunkEntry.cpp): size-1, rows-1, columns-1, row bands-1, filters-1,
    // filter kinds (bit i set: filter i is shuffle), filter mask, unused.
    const int filters = int(shuffle) + int(deflate);
    const unsigned char kinds = shuffle ? 1 : 0; // shuffle first, as h5py writes them
    std::vector<unsigned char> bytes{(unsigned char)(elementSize - 1), (unsigned char)(rows - 1),
                                     (unsigned char)(columns - 1), 0, (unsigned char)(filters - 1),
                                     kinds, 0, 0};
    bytes.insert(bytes.end(), stored.begin(), stored.end());
    std::ofstream(file, std::ios::binary).write(reinterpret_cast<const char *>(bytes.data()),
                                                std::streamsize(bytes.size()));
}

void writeChunks(const fs::path &dir)
{
    fs::create_directories(dir);
    std::mt19937 rng(11);
    writeChunk(dir / "gzip-shuffle-f16.bin", 2, 16, 8, true, true, rng);
    writeChunk(dir / "gzip-shuffle-f32.bin", 4, 8, 8, true, true, rng);
    writeChunk(dir / "gzip-f64.bin", 8, 4, 4, false, true, rng);
    writeChunk(dir / "shuffle-f32.bin", 4, 4, 4, true, false, rng);
    writeChunk(dir / "gzip-i8.bin", 1, 32, 16, false, true, rng);
}

void writeFile(const fs::path &file, const std::string &bytes)
{
    std::ofstream(file, std::ios::binary).write(bytes.data(), std::streamsize(bytes.size()));
}

// [tokens][k] distinct ids below e, drawn from rng.
std::vector<std::vector<std::int64_t>> rows(int tokens, int k, int e, std::mt19937 &rng)
{
    std::vector<std::vector<std::int64_t>> out(static_cast<std::size_t>(tokens));
    for (auto &row : out)
        while (int(row.size()) < k) {
            const std::int64_t id = std::int64_t(rng() % unsigned(e));
            if (std::find(row.begin(), row.end(), id) == row.end())
                row.push_back(id);
        }
    return out;
}

std::vector<std::int64_t> flat(const std::vector<std::vector<std::int64_t>> &r)
{
    std::vector<std::int64_t> out;
    for (const auto &row : r)
        out.insert(out.end(), row.begin(), row.end());
    return out;
}

// Megatron's files are written under the names its writers give them, then renamed.
void writeJsonl(const fs::path &dir)
{
    fs::create_directories(dir);
    std::mt19937 rng(21);
    std::vector<TraceCall> calls;
    for (int step = 0; step < 2; ++step)
        for (int layer = 0; layer < 2; ++layer)
            calls.push_back({step, "decoder", layer, -1, 0, rows(3, 2, 4, rng), {}, 0});
    writeRouterTrace(dir.string(), calls);
    fs::rename(dir / "router_trace_rank0.jsonl", dir / "trace-decoder.jsonl");

    TraceCall mtp{0, "mtp", 0, 0, 0, rows(2, 2, 4, rng), {}, 0};
    TraceCall withLogits{0, "decoder", 1, -1, 0, rows(2, 2, 4, rng), {}, 4};
    withLogits.logits = {0.5f, -1.0f, 2.0f, 0.25f, 1.0f, 0.0f, -0.5f, 3.0f};
    writeRouterTrace(dir.string(), {mtp, withLogits});
    fs::rename(dir / "router_trace_rank0.jsonl", dir / "trace-mtp-logits.jsonl");
    fs::remove(dir / "logits_rank0.bin"); // the target reads one file: the offsets then point nowhere

    std::vector<TpeLine> lines;
    for (int iter = 1; iter <= 2; ++iter) {
        lines.push_back({0, iter, "decoder", -1, 0, {{5, 3, 0, 8}, {4, 4, 4, 4}}});
        lines.push_back({0, iter, "mtp", 0, 0, {{1, 2, 3, 10}}});
    }
    writeTpeLog(dir.string(), lines);
    fs::rename(dir / "rank0.jsonl", dir / "tokens-per-expert.jsonl");
}

std::string rawDeflate(const std::string &data)
{
    libdeflate_compressor *c = libdeflate_alloc_compressor(6);
    std::string packed(libdeflate_deflate_compress_bound(c, data.size()), '\0');
    packed.resize(libdeflate_deflate_compress(c, data.data(), data.size(), packed.data(), packed.size()));
    libdeflate_free_compressor(c);
    return packed;
}

void writeNpy(const fs::path &dir)
{
    fs::create_directories(dir);
    std::mt19937 rng(22);
    const auto draw = [&](int tokens) { return flat(rows(tokens * 2, 2, 6, rng)); }; // [tokens][L = 2][k = 2]
    writeFile(dir / "le-i2.npy", npy(draw(3), {3, 2, 2}, "<i2"));
    writeFile(dir / "be-i4.npy", npy(draw(2), {2, 2, 2}, ">i4"));
    writeFile(dir / "fortran-i8.npy", npy(draw(2), {2, 2, 2}, "<i8", true));
    writeFile(dir / "prompt-gen.npz", zip({{"prompt.npy", npy(draw(2), {2, 2, 2}, "<i2")},
                                           {"gen.npy", npy(draw(1), {1, 2, 2}, "<i2")},
                                           {"prompt_token_ids.npy", npy({5, 6}, {2}, "<i8")},
                                           {"token_ids.npy", npy({7, 8}, {2}, "<i8")}}));
    writeFile(dir / "requests.npz", zip({{"a.npy", npy(draw(2), {2, 2, 2}, "<i2")},
                                         {"b.npy", npy(draw(1), {1, 2, 2}, "<i4")},
                                         {"b_token_ids.npy", npy({9}, {1}, "<i8")}}));
    writeFile(dir / "deflated.npz", zip({{"prompt.npy", npy(draw(3), {3, 2, 2}, "<i2")}}, false, rawDeflate));
}

void writeJson(const fs::path &dir)
{
    fs::create_directories(dir);
    const std::string lists = "[[[1, 2], [3, 0]], [[4, 5], [0, 1]]]"; // [tokens = 2][L = 2][k = 2]
    writeFile(dir / "response.json", "{\"prompt_routed_experts\": " + lists +
                                         ", \"prompt_token_ids\": [11, 12], \"choices\": [{\"routed_experts\": "
                                         "[[[2, 3], [1, 0]]], \"token_ids\": [13, 14]}]}");
    // int16 little-endian [1][2][2] = 1, 2, 3, 4 as base64, in both spellings vLLM uses.
    writeFile(dir / "base64.json", "{\"prompt_routed_experts\": {\"data\": \"AQACAAMABAA=\", \"shape\": [1, 2, 2], "
                                   "\"dtype\": \"int16\"}, \"choices\": [{\"routed_experts\": \"AQACAAMABAA=\"}]}");
    writeFile(dir / "requests.jsonl", "{\"prompt_routed_experts\": " + lists + "}\n{\"prompt_routed_experts\": " +
                                          lists + ", \"prompt_token_ids\": [1, 2]}\n");
    writeFile(dir / "named.json", "{\"a\": " + lists + ", \"b\": [[[0, 5], [4, 3]]]}");
    writeFile(dir / "bare.json", lists);
    writeFile(dir / "outputs.json", "{\"prompt_routed_experts\": " + lists +
                                        ", \"outputs\": [{\"routed_experts\": [[[1, 4], [2, 5]]]}]}");
}

void writeGguf(const fs::path &dir)
{
    fs::create_directories(dir);
    imatrixFixture({{10, 0, 3, 7}, {5, 5, 5, 5}}, 4, 16).write((dir / "imatrix-v3.gguf").string());
    GgufFixture v2 = imatrixFixture({{1, 2, 3, 4, 5, 6}}, 2, 8, 2);
    v2.version = 2;
    v2.alignment = 64;
    v2.writeAlignment = true;
    v2.write((dir / "imatrix-v2-aligned.gguf").string());
}

} // namespace

int main(int argc, char **argv)
{
    if (argc != 2) {
        std::fprintf(stderr, "usage: moescope-fuzz-seeds OUTDIR\n");
        return 2;
    }
    const fs::path out(argv[1]);
    try {
        writeDumps(out / "dump");
        writeRunLogs(out / "runlog");
        writeChunks(out / "chunk");
        writeJsonl(out / "import-jsonl");
        writeNpy(out / "import-npy");
        writeJson(out / "import-json");
        writeGguf(out / "import-gguf");
    } catch (const std::exception &e) {
        std::fprintf(stderr, "moescope-fuzz-seeds: %s\n", e.what());
        return 1;
    }
    return 0;
}
