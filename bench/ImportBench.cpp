// The Megatron router trace import benchmark: a trace of 10,000,000 expert
// assignments (4 ranks x 2 steps x 2 microbatches x 8 layers, 9,766 tokens per call,
// top-8 of 64 experts; about 1.25 M tokens per layer) written as Megatron-Core writes
// it, then `moescope import DIR -o OUT.h5` end to end (reading, checking and writing
// the dump) against Python's json.loads over the same lines (/usr/bin/python3; the
// lines read into memory first, only the parsing timed). The import is timed in a
// fresh process of this program that calls the importer (reading, checking, writing
// the dump), so the time leaves out only the loading of the program's libraries; the
// whole `moescope import` command is timed as well. Best of --runs each, after a
// warm-up run. Target: the import at least 5x faster than json.loads.
//
// usage: moescope_bench_import [--data DIR] [--runs N]
#include "BenchDump.h"
#include "import/ImportFormats.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <random>
#include <string>
#include <vector>

using namespace moescope::bench;

namespace {

constexpr int kRanks = 4, kSteps = 2, kMicrobatches = 2, kTraceLayers = 8, kCallTokens = 9766;
constexpr int kTraceExperts = 64, kTraceTopK = 8;
constexpr long long kAssignments =
    1LL * kRanks * kSteps * kMicrobatches * kTraceLayers * kCallTokens * kTraceTopK;

// Lines in the byte layout of Python's json.dumps, keys in the tracer's order, ids
// ascending per token as a training trace records them.
void writeTrace(const std::string &dir)
{
    std::mt19937 rng(2026);
    for (int rank = 0; rank < kRanks; ++rank) {
        std::ofstream out(dir + "/router_trace_rank" + std::to_string(rank) + ".jsonl", std::ios::trunc);
        for (int step = 0; step < kSteps; ++step)
            for (int mb = 0; mb < kMicrobatches; ++mb)
                for (int layer = 0; layer < kTraceLayers; ++layer) {
                    std::string line = "{\"step\": " + std::to_string(step) +
                                       ", \"stage\": \"pre_dispatch\", \"block\": \"decoder\", \"layer\": " +
                                       std::to_string(layer) + ", \"rank\": " + std::to_string(rank) +
                                       ", \"num_tokens\": " + std::to_string(kCallTokens) +
                                       ", \"topk\": " + std::to_string(kTraceTopK) + ", \"top_indices\": [";
                    for (int t = 0; t < kCallTokens; ++t) {
                        std::uint64_t chosen = 0;
                        while (__builtin_popcountll(chosen) < kTraceTopK)
                            chosen |= 1ULL << (rng() % kTraceExperts);
                        line += t ? ", [" : "[";
                        bool first = true;
                        for (int e = 0; e < kTraceExperts; ++e)
                            if (chosen >> e & 1) {
                                line += (first ? "" : ", ") + std::to_string(e);
                                first = false;
                            }
                        line += "]";
                    }
                    out << line << "]}\n";
                }
    }
}

const char *kPythonLoads = R"(
import glob, json, sys, time
lines = []
for path in sorted(glob.glob(sys.argv[1] + "/router_trace_rank*.jsonl")):
    with open(path) as f:
        lines.extend(f.readlines())
best = None
for _ in range(int(sys.argv[2])):
    start = time.perf_counter()
    n = 0
    for line in lines:
        n += len(json.loads(line)["top_indices"])
    spent = time.perf_counter() - start
    best = spent if best is None else min(best, spent)
print(best, n)
)";

} // namespace

// The child: one import in this process, its seconds on stdout.
int importOnce(const std::string &trace, const std::string &out)
{
    const auto start = std::chrono::steady_clock::now();
    moescope::import::ImportOptions options;
    options.numExperts = kTraceExperts;
    moescope::import::importSource(*moescope::import::findImportFormat("megatron"), trace, out, options);
    std::printf("%.6f\n", seconds(start));
    return 0;
}

int main(int argc, char **argv)
{
    std::setvbuf(stdout, nullptr, _IOLBF, 0);
    if (argc == 4 && std::string(argv[1]) == "--import-once")
        return importOnce(argv[2], argv[3]);
    std::string dataDir = "/tmp/moescope-bench";
    int runs = 3;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--data" && i + 1 < argc)
            dataDir = argv[++i];
        else if (a == "--runs" && i + 1 < argc)
            runs = std::max(1, std::atoi(argv[++i]));
        else {
            std::fprintf(stderr, "usage: %s [--data DIR] [--runs N]\n", argv[0]);
            return 2;
        }
    }
    const std::string trace = dataDir + "/megatron_trace_10M";
    std::system(("mkdir -p '" + trace + "'").c_str());
    if (access((trace + "/router_trace_rank" + std::to_string(kRanks - 1) + ".jsonl").c_str(), R_OK) != 0)
        writeTrace(trace);
    const std::string out = dataDir + "/megatron_trace_10M.h5";

    std::printf("\nMoE Scope import benchmark (Megatron-Core router trace)\n");
    std::printf("  trace: %s\n         %d ranks x %d steps x %d microbatches x %d layers, %d tokens per call, "
                "top-%d of %d experts: %lld assignments\n",
                trace.c_str(), kRanks, kSteps, kMicrobatches, kTraceLayers, kCallTokens, kTraceTopK, kTraceExperts,
                kAssignments);
    const std::vector<std::string> command = {MOESCOPE_BIN, "import", trace, "-o", out, "--num-experts",
                                              std::to_string(kTraceExperts)};
    const std::vector<std::string> inProcess = {argv[0], "--import-once", trace, out};
    runChild(command, dataDir + "/import.out", dataDir + "/import.err"); // warms the page cache
    double importSeconds = 0;
    ChildRun best;
    for (int r = 0; r < runs; ++r) {
        const ChildRun once = runChild(inProcess, dataDir + "/import.out", dataDir + "/import.err");
        check(once.status == 0, "the import");
        const double s = std::strtod(once.out.c_str(), nullptr);
        importSeconds = r == 0 ? s : std::min(importSeconds, s);
        const ChildRun run = runChild(command, dataDir + "/import.out", dataDir + "/import.err");
        check(run.status == 0, "moescope import");
        if (r == 0 || run.seconds < best.seconds)
            best = run;
    }
    std::printf("  import (read, check, write dump)  : best of %d %.3f s\n", runs, importSeconds);
    std::printf("  moescope import command, whole    : best of %d %.3f s (with loading the program), peak %.0f MB\n",
                runs, best.seconds, double(best.peakKiB) / 1024.0);
    const ChildRun python = runChild({PYTHON_BIN, "-c", kPythonLoads, trace, std::to_string(runs)},
                                     dataDir + "/loads.out");
    check(python.status == 0, "python3 json.loads");
    const double loads = std::strtod(python.out.c_str(), nullptr);
    std::printf("  python3 json.loads, same lines    : best of %d %.3f s\n", runs, loads);
    const double ratio = loads / importSeconds;
    std::printf("summary\n  json.loads time / import time : %.1fx   target >= 5x   %s\n", ratio,
                ratio >= 5 ? "met" : "NOT met");
    std::printf("  json.loads time / whole command time : %.1fx\n", loads / best.seconds);
    return 0;
}
