// The routing benchmark: writes a dump of 1,000,000 tokens x 8 layers x 64 experts
// (float16 logits, uncompressed, top-8 like OLMoE), then measures in one run:
//   (a) `moescope route --device cpu` end to end (a child process; best of --runs),
//   (b) a plain read-and-sum over the same logits in memory (the bandwidth ceiling),
//       next to the CPU backend routing the same in-memory logits,
//   (c) the same routing and counts in numpy and in PyTorch (route_reference.py),
//   (d) the peak resident memory of `route` (getrusage of the child),
//   (e) the expert-pair matrices of the 8 layers' choices (routed by the CPU backend):
//       co-activation of each layer and the 7 transitions, by the reference functions
//       (one thread), the CPU backend and the OpenCL backend (`--device gpu`), which
//       must give identical matrices,
// and prints the ratios against the targets. Built, not run, by the test suite.
//
// usage: moescope_bench_route [--data DIR] [--runs N] [--threads N] [--no-python]
#include "GpuRouting.h"
#include "BenchDump.h"
#include "analysis/LogitsChunks.h"
#include "io/OpenDump.h"
#include "routing/BackendFactory.h"
#include "routing/RoutingBackend.h"
#include "stats/ExpertPairs.h"

#include <fcntl.h>
#include <hdf5.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

extern char **environ;

using namespace moescope::bench;

namespace {

// The first `"counts": [...]` array after `from` in a JSON text.
std::vector<long long> countsIn(const std::string &json, std::size_t from = 0)
{
    std::vector<long long> v;
    std::size_t at = json.find("\"counts\": [", from);
    if (at == std::string::npos)
        return v;
    at += 11;
    while (at < json.size() && json[at] == '[') // the first of nested arrays
        ++at;
    while (at < json.size() && json[at] != ']') {
        char *end = nullptr;
        v.push_back(std::strtoll(json.c_str() + at, &end, 10));
        if (end == json.c_str() + at)
            break; // not a number: stop rather than loop
        at = std::size_t(end - json.c_str());
        while (at < json.size() && (json[at] == ',' || json[at] == ' '))
            ++at;
    }
    return v;
}

double jsonNumber(const std::string &json, const std::string &key)
{
    const std::size_t at = json.find("\"" + key + "\": ");
    return at == std::string::npos ? NAN : std::strtod(json.c_str() + at + key.size() + 4, nullptr);
}

#if defined(__x86_64__)
__attribute__((target("avx2,f16c"))) float sumHalvesF16c(const std::uint16_t *p, std::size_t n)
{
    __m256 a = _mm256_setzero_ps(), b = a, c = a, d = a;
    std::size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        a = _mm256_add_ps(a, _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i *>(p + i))));
        b = _mm256_add_ps(b, _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i *>(p + i + 8))));
        c = _mm256_add_ps(c, _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i *>(p + i + 16))));
        d = _mm256_add_ps(d, _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i *>(p + i + 24))));
    }
    alignas(32) float lanes[8];
    _mm256_store_ps(lanes, _mm256_add_ps(_mm256_add_ps(a, b), _mm256_add_ps(c, d)));
    float s = 0;
    for (float v : lanes)
        s += v;
    for (; i < n; ++i)
        s += _cvtsh_ss(p[i]);
    return s;
}
#endif

// The bandwidth ceiling: read every half once, convert, add; `threads` slices.
double readAndSum(const std::vector<std::uint16_t> &halves, unsigned threads, double &sum)
{
    std::vector<double> partial(threads);
    const auto start = std::chrono::steady_clock::now();
    std::vector<std::thread> workers;
    for (unsigned t = 0; t < threads; ++t)
        workers.emplace_back([&, t] {
            const std::size_t begin = halves.size() * t / threads, end = halves.size() * (t + 1) / threads;
#if defined(__x86_64__)
            partial[t] = sumHalvesF16c(halves.data() + begin, end - begin);
#else
            (void)begin, (void)end;
#endif
        });
    for (auto &w : workers)
        w.join();
    const double s = seconds(start);
    sum = 0;
    for (double p : partial)
        sum += p;
    return s;
}

// The 8 co-activation matrices, then the 7 transitions, by one engine; the best time
// of `runs` for each kind.
struct PairRun {
    std::vector<std::vector<std::int64_t>> matrices;
    double coActivationSeconds = 1e9, transitionSeconds = 1e9;
};

template <typename CoActivation, typename Transitions>
PairRun timePairs(const std::vector<moescope::LayerChoices> &layers, int runs, CoActivation coActivation,
                  Transitions transitions)
{
    PairRun r;
    r.matrices.resize(2 * layers.size() - 1);
    for (int run = 0; run < runs; ++run) {
        auto start = std::chrono::steady_clock::now();
        for (std::size_t l = 0; l < layers.size(); ++l)
            r.matrices[l] = coActivation(layers[l]);
        r.coActivationSeconds = std::min(r.coActivationSeconds, seconds(start));
        start = std::chrono::steady_clock::now();
        for (std::size_t l = 0; l + 1 < layers.size(); ++l)
            r.matrices[layers.size() + l] = transitions(layers[l], layers[l + 1]);
        r.transitionSeconds = std::min(r.transitionSeconds, seconds(start));
    }
    return r;
}

void printPairRun(const char *engine, const PairRun &r)
{
    std::printf("    %-44s co-activation %.3f s, transitions %.3f s\n", engine, r.coActivationSeconds,
                r.transitionSeconds);
}

} // namespace

int main(int argc, char **argv)
{
    std::setvbuf(stdout, nullptr, _IOLBF, 0); // progress shows while it runs, also through a pipe
    std::string dataDir = "/tmp/moescope-bench";
    int runs = 3;
    unsigned threads = std::max(1u, std::thread::hardware_concurrency());
    bool python = true, app = true;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--data" && i + 1 < argc)
            dataDir = argv[++i];
        else if (a == "--runs" && i + 1 < argc)
            runs = std::max(1, std::atoi(argv[++i]));
        else if (a == "--threads" && i + 1 < argc)
            threads = unsigned(std::max(1, std::atoi(argv[++i])));
        else if (a == "--no-python")
            python = false;
        else if (a == "--no-app") // a machine without the desktop libraries: (a) and (d) left out
            app = false;
        else {
            std::fprintf(stderr, "usage: %s [--data DIR] [--runs N] [--threads N] [--no-python] [--no-app]\n", argv[0]);
            return 2;
        }
    }
    std::system(("mkdir -p '" + dataDir + "'").c_str());
    const std::string path = dataDir + "/route_1M_8x64_top8_f16.h5";
    if (access(path.c_str(), R_OK) != 0)
        writeDump(path);

    std::printf("\nMoE Scope routing benchmark\n");
    std::printf("  dump: %s\n        %lld tokens x %d layers x %d experts, top-%d, float16, uncompressed: %.3f GB of logits\n",
                path.c_str(), static_cast<long long>(kTokens), kLayers, kExperts, kTopK, kLogitBytes / 1e9);
    std::printf("  machine: %u hardware threads; threads used by every engine: %u; CPU kernel: %s\n",
                std::thread::hardware_concurrency(), threads,
                moescope::makeCpuBackend(threads)->name().c_str());
    std::printf("  files are read from the page cache (warmed by a first run), for every engine alike\n\n");
    std::fflush(stdout);

    // (a) route end to end, best of `runs`; the first run also warms the page cache.
    const std::string outPath = dataDir + "/route.json";
    const char *bin = std::getenv("MOESCOPE_BIN"); // a copy elsewhere (another machine) names its own
    const std::vector<std::string> routeArgs{bin && *bin ? bin : MOESCOPE_BIN, "route", path, "--device", "cpu", "--json"};
    ChildRun best;
    long peakKiB = 0;
    if (app)
        runChild(routeArgs, outPath);
    for (int r = 0; r < (app ? runs : 0); ++r) {
        const ChildRun run = runChild(routeArgs, outPath);
        if (run.status != 0) {
            std::fprintf(stderr, "bench: moescope route failed (exit %d)\n", run.status);
            return 1;
        }
        peakKiB = std::max(peakKiB, run.peakKiB);
        if (r == 0 || run.seconds < best.seconds)
            best = run;
    }
    const double routeSeconds = app ? best.seconds : NAN;
    if (app)
        std::printf("(a) moescope route --device cpu (end to end, %d runs): best %.3f s = %.2f GB/s of logits\n", runs,
                routeSeconds, kLogitBytes / routeSeconds / 1e9);
    if (app)
        std::printf("    layer 0: lb_loss %.4f, z_loss %.3f\n", jsonNumber(best.out, "lb_loss"), jsonNumber(best.out, "z_loss"));

    // (b) the same logits in memory: read-and-sum, and the CPU backend routing them.
    std::vector<std::uint16_t> halves(std::size_t(kTokens) * kLayers * kExperts);
    {
        const auto dump = moescope::openDump(path);
        for (int l = 0; l < kLayers; ++l)
            dump->readLogits(std::size_t(l), 0, std::uint64_t(kTokens), halves.data() + std::size_t(l) * kTokens * kExperts);
    }
    double sumSeconds = 1e9, total = 0;
    for (int r = 0; r < runs + 2; ++r)
        sumSeconds = std::min(sumSeconds, readAndSum(halves, threads, total));
    const double sumRate = kLogitBytes / sumSeconds / 1e9;
    std::printf("(b) read-and-sum of the logits in memory (%u threads): best %.3f s = %.2f GB/s (sum %.6g)\n", threads,
                sumSeconds, sumRate, total);

    const auto backend = moescope::makeCpuBackend(threads);
    moescope::RoutingRules rules;
    rules.topK = kTopK;
    const std::size_t chunk = moescope::defaultChunkRows(moescope::openDump(path)->info(), 0); // as the pass streams
    std::vector<std::int32_t> ids(std::size_t(kTokens) * kTopK);
    std::vector<std::uint8_t> valid(static_cast<std::size_t>(kTokens));
    double memorySeconds = 1e9;
    std::vector<std::int64_t> memoryCounts;
    for (int r = 0; r < runs + 1; ++r) {
        const auto start = std::chrono::steady_clock::now();
        for (int l = 0; l < kLayers; ++l) {
            moescope::LossTotals totals;
            const std::uint16_t *layer = halves.data() + std::size_t(l) * kTokens * kExperts;
            for (std::size_t b = 0; b < std::size_t(kTokens); b += chunk) {
                const std::size_t n = std::min(chunk, std::size_t(kTokens) - b);
                moescope::ChunkOutput out;
                out.ids = ids.data() + b * kTopK;
                out.valid = valid.data() + b;
                backend->routeChunk(layer + b * kExperts, n, kExperts, rules, out, totals);
            }
            if (l == 0)
                memoryCounts = totals.counts;
        }
        memorySeconds = std::min(memorySeconds, seconds(start));
    }
    const double memoryRate = kLogitBytes / memorySeconds / 1e9;
    std::printf("    CPU backend routing the same in-memory logits (softmax, top-%d, counts, P[e], z terms):\n"
                "    best %.3f s = %.2f GB/s = %.0f%% of (b)\n",
                kTopK, memorySeconds, memoryRate, 100.0 * memoryRate / sumRate);
    // Every layer's choices, kept for (e): routed once more, each layer in one call.
    std::vector<moescope::LayerChoices> layerChoices(kLayers);
    for (int l = 0; l < kLayers; ++l) {
        moescope::LayerChoices &c = layerChoices[std::size_t(l)];
        c.numExperts = kExperts;
        c.topK = kTopK;
        c.ids.resize(std::size_t(kTokens) * kTopK);
        c.valid.resize(std::size_t(kTokens));
        moescope::ChunkOutput out;
        out.ids = c.ids.data();
        out.valid = c.valid.data();
        out.losses = false;
        moescope::LossTotals totals;
        backend->routeChunk(halves.data() + std::size_t(l) * kTokens * kExperts, std::size_t(kTokens), kExperts,
                            rules, out, totals);
    }
    const std::vector<std::uint16_t> &layerLogits = halves; // (f) routes them on the GPU

    // (c) numpy and PyTorch, end to end as they would be used (h5py reads, 65,536-row chunks).
    double numpySeconds = NAN, torchSeconds = NAN;
    const std::vector<long long> routeCounts = countsIn(best.out);
    if (python) {
        for (const char *engine : {"numpy", "torch"}) {
            // A copy of the benchmark on another machine names its own interpreter and script.
            const char *interpreter = std::getenv("MOESCOPE_BENCH_PYTHON");
            const char *script = std::getenv("MOESCOPE_BENCH_REFERENCE");
            const ChildRun run = runChild({interpreter && *interpreter ? interpreter : PYTHON_BIN,
                                           script && *script ? script : ROUTE_REFERENCE_PY, path, engine,
                                           std::to_string(threads)},
                                          dataDir + "/" + engine + ".json");
            const double s = jsonNumber(run.out, "seconds");
            if (run.status != 0 || std::isnan(s)) {
                std::printf("(c) %s: failed (exit %d)\n", engine, run.status);
                continue;
            }
            (std::strcmp(engine, "numpy") == 0 ? numpySeconds : torchSeconds) = s;
            // Same counts as moescope, up to the order of exactly tied logits.
            const std::vector<long long> c = countsIn(run.out);
            long long differ = 0;
            for (std::size_t e = 0; e < c.size() && e < routeCounts.size(); ++e)
                differ += std::llabs(c[e] - routeCounts[e]);
            std::printf("(c) %-5s (%s, %u threads): %.2f s end to end (process %.2f s); layer-0 counts differ from "
                        "route's by %lld of %lld assignments (ties)\n",
                        engine, std::strcmp(engine, "numpy") == 0 ? "softmax, argpartition, bincount" : "softmax, topk, bincount",
                        threads, s, run.seconds, differ / 2, static_cast<long long>(kTokens) * kTopK);
        }
    }
    (void)memoryCounts;

    // (d) peak resident memory of route.
    const double peakMB = double(peakKiB) / 1024.0;
    if (app)
        std::printf("(d) peak resident memory of moescope route: %.0f MB   [target < 300 MB]\n\n", peakMB);

    // (e) expert pairs of the routed choices, best of runs + 1 (the first run also
    // warms up: PoCL compiles a kernel for its work-group size on the first launch).
    std::printf("(e) expert pairs of the %d layers' choices (%d co-activation matrices, %d transitions; best of %d):\n",
                kLayers, kLayers, kLayers - 1, runs + 1);
    const PairRun reference = timePairs(
        layerChoices, runs + 1, [](const moescope::LayerChoices &c) { return moescope::coActivation(c); },
        [](const moescope::LayerChoices &a, const moescope::LayerChoices &b) { return moescope::layerTransitions(a, b); });
    printPairRun("reference functions (1 thread):", reference);
    const PairRun cpu = timePairs(
        layerChoices, runs + 1, [&](const moescope::LayerChoices &c) { return backend->coActivation(c); },
        [&](const moescope::LayerChoices &a, const moescope::LayerChoices &b) { return backend->layerTransitions(a, b); });
    printPairRun(("CPU backend (" + std::to_string(threads) + " threads):").c_str(), cpu);
    check(cpu.matrices == reference.matrices, "(e) CPU backend pairs equal to the reference");
    try {
        std::string notice;
        const auto gpu = moescope::makeBackend(moescope::Device::Gpu, notice);
        const PairRun opencl = timePairs(
            layerChoices, runs + 1, [&](const moescope::LayerChoices &c) { return gpu->coActivation(c); },
            [&](const moescope::LayerChoices &a, const moescope::LayerChoices &b) { return gpu->layerTransitions(a, b); });
        printPairRun("OpenCL backend:", opencl);
        std::printf("      (%s)\n", gpu->name().c_str());
        check(opencl.matrices == reference.matrices, "(e) OpenCL backend pairs equal to the reference");
        std::printf("    all three give identical matrices\n\n");
    } catch (const std::runtime_error &e) {
        std::printf("    OpenCL backend: not measured (%s)\n", e.what());
        std::printf("    the reference and the CPU backend give identical matrices\n\n");
    }

    // (f) the OpenCL backend routing the same in-memory logits: equal choices to the CPU's.
    timeOpenClRouting(layerLogits, kTokens, kLayers, kExperts, rules, layerChoices, runs);

    std::printf("summary\n");
    const double overMemory = routeSeconds / memorySeconds;
    if (app)
        std::printf("  route end to end / in-memory routing : %5.2fx   target <= 2x    %s\n", overMemory,
                    overMemory <= 2 ? "met" : "NOT met");
    if (!std::isnan(numpySeconds))
        std::printf("  numpy time / route time              : %5.1fx   target >= 30x   %s\n", numpySeconds / routeSeconds,
                    numpySeconds >= 30 * routeSeconds ? "met" : "NOT met");
    if (!std::isnan(torchSeconds))
        std::printf("  torch time / route time              : %5.1fx   target >= 15x   %s\n", torchSeconds / routeSeconds,
                    torchSeconds >= 15 * routeSeconds ? "met" : "NOT met");
    if (app)
        std::printf("  route peak memory                    : %5.0f MB  target < 300   %s\n", peakMB,
                    peakMB < 300 ? "met" : "NOT met");
    return 0;
}
