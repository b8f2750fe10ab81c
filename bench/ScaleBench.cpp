// The scale benchmark: dumps shaped like DeepSeek-V3's routing (V3DumpWriter.h), at
// 1 M tokens and, with --big, 10 M, written once under --data and reused. Measures in
// one run, as a user meets them, every figure with its target:
//   stats      `moescope stats --json` end to end and its peak memory (1 M: <= 1.5 s)
//   cached     `stats` again, answered from the summary cache (<= 1 s), peak memory
// The window's timings (MOESCOPE_TIMING=1 moescope DUMP prints them) are not run here.
// Built, not run, by the test suite.
//
// usage: moescope_bench_scale [--data DIR] [--runs N] [--big]
#include "BenchDump.h"
#include "V3DumpWriter.h"

#include <sys/stat.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

namespace {

bool exists(const std::string &path)
{
    struct stat s;
    return ::stat(path.c_str(), &s) == 0;
}

long long fileBytes(const std::string &path)
{
    struct stat s;
    return ::stat(path.c_str(), &s) == 0 ? static_cast<long long>(s.st_size) : -1;
}

void verdict(const char *what, double value, double target, const char *unit)
{
    std::printf("  %-44s %8.3f %s   target <= %g %s   %s\n", what, value, unit, target, unit,
                value <= target ? "MET" : "NOT MET");
}

struct StatsRun {
    double seconds = 1e9;
    long peakKiB = 0;
    bool ok = false;
};

StatsRun timeStats(const std::string &dump, const std::string &data, int runs, bool cache)
{
    StatsRun best;
    for (int r = 0; r < runs; ++r) {
        std::vector<std::string> argv{MOESCOPE_BIN, "stats", dump, "--json"};
        if (!cache)
            argv.push_back("--no-cache");
        const moescope::bench::ChildRun run = moescope::bench::runChild(argv, data + "/stats.json", data + "/stats.err");
        if (run.status != 0) {
            std::printf("  stats failed (exit %d): see %s/stats.err\n", run.status, data.c_str());
            return best;
        }
        best.ok = true;
        best.seconds = std::min(best.seconds, run.seconds);
        best.peakKiB = std::max(best.peakKiB, run.peakKiB);
    }
    return best;
}

void measure(const std::string &dump, const std::string &data, int runs, double statsTarget)
{
    std::printf("%s (%.2f GB stored)\n", dump.c_str(), double(fileBytes(dump)) / 1e9);
    timeStats(dump, data, 1, false); // warms the page cache: every figure is of a file read before
    const StatsRun stats = timeStats(dump, data, runs, false);
    if (stats.ok) {
        verdict("stats --json --no-cache, end to end", stats.seconds, statsTarget, "s");
        verdict("stats peak memory", double(stats.peakKiB) / 1048576.0, 1.5, "GiB");
    }
    timeStats(dump, data, 1, true); // computes once more and stores the summary
    const StatsRun cached = timeStats(dump, data, runs, true);
    if (cached.ok) {
        verdict("stats --json from the summary cache", cached.seconds, 1.0, "s");
        verdict("stats from the cache, peak memory", double(cached.peakKiB) / 1048576.0, 1.5, "GiB");
    }
}

} // namespace

int main(int argc, char **argv)
{
    std::string data = "/tmp/moescope-bench";
    int runs = 3;
    bool big = false;
    for (int i = 1; i < argc; ++i) {
        if (!std::strcmp(argv[i], "--data") && i + 1 < argc)
            data = argv[++i];
        else if (!std::strcmp(argv[i], "--runs") && i + 1 < argc)
            runs = std::max(1, std::atoi(argv[++i]));
        else if (!std::strcmp(argv[i], "--big"))
            big = true;
        else {
            std::fprintf(stderr, "usage: moescope_bench_scale [--data DIR] [--runs N] [--big]\n");
            return 2;
        }
    }
    ::mkdir(data.c_str(), 0755);
    const std::string cache = data + "/summary-cache"; // the user's own cache stays untouched
    ::setenv("MOESCOPE_CACHE_DIR", cache.c_str(), 1);
    std::system(("rm -rf '" + cache + "'").c_str());
    const std::string small = data + "/v3_1M.h5", large = data + "/v3_10M.h5";
    if (!exists(small))
        moescope::bench::writeV3Dump(small, {});
    if (big && !exists(large)) {
        moescope::bench::V3Shape shape;
        shape.tokens = 10000000;
        moescope::bench::writeV3Dump(large, shape);
    }
    measure(small, data, runs, 1.5);
    if (big)
        measure(large, data, 1, 15.0);
    return 0;
}
