// The checkpoint comparison benchmark: two checkpoints of the same 1,000,000 tokens
// (8 layers x 64 experts, float16 logits, top-8; BenchDump.h), then `moescope compare
// A B --json` against `moescope stats A --json` end to end, best of --runs each after a
// warm-up run (page cache), and the peak resident memory of both. Target: compare in
// under 3x the time of stats.
//
// usage: moescope_bench_compare [--data DIR] [--runs N]
#include "BenchDump.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

using namespace moescope::bench;

namespace {

ChildRun bestOf(const std::vector<std::string> &argv, const std::string &outPath, int runs)
{
    runChild(argv, outPath); // warms the page cache
    ChildRun best;
    for (int r = 0; r < runs; ++r) {
        const ChildRun run = runChild(argv, outPath);
        check(run.status == 0, argv[1].c_str());
        if (r == 0 || run.seconds < best.seconds)
            best = {run.seconds, std::max(best.peakKiB, run.peakKiB), run.status, run.out};
        else
            best.peakKiB = std::max(best.peakKiB, run.peakKiB);
    }
    return best;
}

} // namespace

int main(int argc, char **argv)
{
    std::setvbuf(stdout, nullptr, _IOLBF, 0);
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
    std::system(("mkdir -p '" + dataDir + "'").c_str());
    const std::string a = dataDir + "/route_1M_8x64_top8_f16.h5"; // the routing benchmark's dump
    const std::string b = dataDir + "/route_1M_8x64_top8_f16_step2.h5";
    if (access(a.c_str(), R_OK) != 0)
        writeDump(a);
    if (access(b.c_str(), R_OK) != 0)
        writeDump(b, 2);

    std::printf("\nMoE Scope checkpoint comparison benchmark\n");
    std::printf("  dumps: %s\n         %s\n         each %lld tokens x %d layers x %d experts, top-%d, float16 logits "
                "(%.2f GB), no recorded choices: both are routed\n",
                a.c_str(), b.c_str(), static_cast<long long>(kTokens), kLayers, kExperts, kTopK, kLogitBytes / 1e9);
    const ChildRun stats = bestOf({MOESCOPE_BIN, "stats", a, "--json"}, dataDir + "/stats.json", runs);
    std::printf("  moescope stats A --json     : best of %d %.3f s, peak %.0f MB\n", runs, stats.seconds,
                double(stats.peakKiB) / 1024.0);
    const ChildRun compare = bestOf({MOESCOPE_BIN, "compare", a, b, "--json"}, dataDir + "/compare.json", runs);
    std::printf("  moescope compare A B --json : best of %d %.3f s, peak %.0f MB\n", runs, compare.seconds,
                double(compare.peakKiB) / 1024.0);
    const std::size_t at = compare.out.find("\"saturation\": ");
    if (at != std::string::npos)
        std::printf("  (layer 00 saturation of A against B: %.4f)\n", std::strtod(compare.out.c_str() + at + 14, nullptr));
    const double ratio = compare.seconds / stats.seconds;
    std::printf("summary\n  compare time / stats time : %.2fx   target < 3x   %s\n", ratio, ratio < 3 ? "met" : "NOT met");
    return 0;
}
