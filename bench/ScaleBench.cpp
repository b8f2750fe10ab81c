// The scale benchmark: dumps shaped like DeepSeek-V3's routing (V3DumpWriter.h), at
// 1 M tokens and, with --big, 10 M, written once under --data and reused. Measures in
// one run, as a user meets them, every figure with its target:
//   stats      `moescope stats --json` end to end and its peak memory (1 M: <= 1.5 s)
//   cached     `stats` again, answered from the summary cache (<= 1 s), peak memory
//   window     the window (offscreen) from launch to the first layer's overview
//              (<= 1 s), to every layer's (1 M: <= 2.5 s; 10 M: <= 20 s), and its peak
//              memory (<= 1.5 GiB); then opened again, from the summary cache (<= 1 s)
// Built, not run, by the test suite.
//
// usage: moescope_bench_scale [--data DIR] [--runs N] [--big]
#include "BenchDump.h"
#include "V3DumpWriter.h"

#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
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

struct WindowRun {
    double firstLayer = -1, allLayers = -1, shown = -1; // seconds since launch
    long peakKiB = 0;
    bool ok = false;
};

// The seconds since launch on the window's timing line for `what`, or -1.
double timingOf(const std::string &log, const std::string &what)
{
    const std::string key = "moescope timing: " + what + " ";
    const std::size_t at = log.find(key);
    if (at == std::string::npos)
        return -1;
    const std::size_t open = log.find('(', at), end = log.find('\n', at);
    if (open == std::string::npos || open > end)
        return -1;
    return std::atof(log.c_str() + open + 1) / 1000.0;
}

// Opens the dump in the window, offscreen, which closes itself once the analysed dump
// is shown (MOESCOPE_TIMING_EXIT); its own timing lines give the figures.
WindowRun timeWindow(const std::string &dump, const std::string &data)
{
    const long long now = std::chrono::duration_cast<std::chrono::milliseconds>(
                              std::chrono::system_clock::now().time_since_epoch())
                              .count();
    ::setenv("MOESCOPE_TIMING", std::to_string(now).c_str(), 1);
    ::setenv("MOESCOPE_TIMING_EXIT", "1", 1);
    ::setenv("QT_QPA_PLATFORM", "offscreen", 1);
    ::setenv("XDG_CONFIG_HOME", (data + "/config").c_str(), 1); // the user's settings stay untouched
    const std::string err = data + "/window.err";
    const moescope::bench::ChildRun run = moescope::bench::runChild({MOESCOPE_BIN, dump}, data + "/window.out", err);
    ::unsetenv("MOESCOPE_TIMING");
    WindowRun w;
    std::ifstream in(err);
    const std::string log((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    w.firstLayer = timingOf(log, "first layer shown");
    w.allLayers = timingOf(log, "all layers shown");
    w.shown = timingOf(log, "dump shown");
    w.peakKiB = run.peakKiB;
    w.ok = run.status == 0 && w.firstLayer >= 0 && w.allLayers >= 0;
    if (!w.ok)
        std::printf("  the window did not report its timings (exit %d): see %s\n", run.status, err.c_str());
    return w;
}

void measureWindow(const std::string &dump, const std::string &data, double allTarget)
{
    std::system(("rm -rf '" + data + "/summary-cache'").c_str()); // a first open computes
    const WindowRun first = timeWindow(dump, data);
    if (first.ok) {
        verdict("window, first open: first layer shown", first.firstLayer, 1.0, "s");
        verdict("window, first open: all layers shown", first.allLayers, allTarget, "s");
        std::printf("  %-44s %8.3f s\n", "window, first open: analysed dump shown", first.shown);
        verdict("window, first open: peak memory", double(first.peakKiB) / 1048576.0, 1.5, "GiB");
    }
    const WindowRun again = timeWindow(dump, data);
    if (again.ok) {
        verdict("window, opened again: all layers shown", again.allLayers, 1.0, "s");
        verdict("window, opened again: peak memory", double(again.peakKiB) / 1048576.0, 1.5, "GiB");
    }
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
    measureWindow(small, data, 2.5);
    if (big) {
        measure(large, data, 1, 15.0);
        measureWindow(large, data, 20.0);
    }
    return 0;
}
