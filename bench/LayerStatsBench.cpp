// The per-layer cost of each statistic `stats` computes, on one layer of a real dump:
// reading the layer's topk_ids, the counts, the capacity drops, token locality and
// vocabulary specialisation, each timed alone (best of --runs, in CPU time: the
// figures hold on a busy machine), single-threaded.
// It shows where the time of `stats` goes, layer by layer.
//
// usage: moescope_bench_layer_stats DUMP [--layer L] [--runs N]
#include "io/OpenDump.h"
#include "io/RoutingDump.h"
#include "stats/CapacityDrops.h"
#include "stats/TokenLocality.h"
#include "stats/TokenPositions.h"
#include "stats/VocabularySpecialisation.h"

#include <algorithm>
#include <chrono>
#include <ctime>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>

using namespace moescope;

namespace {

// The thread's CPU time, not the wall clock: on a shared machine the wall clock also
// counts the time other processes held the core.
double threadSeconds()
{
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return double(ts.tv_sec) + 1e-9 * double(ts.tv_nsec);
}

double bestOf(int runs, const std::function<void()> &work)
{
    double best = 1e30;
    for (int i = 0; i < runs; ++i) {
        const double start = threadSeconds();
        work();
        best = std::min(best, threadSeconds() - start);
    }
    return best;
}

} // namespace

int main(int argc, char **argv)
{
    if (argc < 2) {
        std::fprintf(stderr, "usage: %s DUMP [--layer L] [--runs N]\n", argv[0]);
        return 2;
    }
    std::size_t layer = 0;
    int runs = 5;
    for (int i = 2; i + 1 < argc; i += 2) {
        if (!std::strcmp(argv[i], "--layer"))
            layer = std::size_t(std::atoi(argv[i + 1]));
        else if (!std::strcmp(argv[i], "--runs"))
            runs = std::max(1, std::atoi(argv[i + 1]));
    }
    const auto dump = openDump(argv[1]);
    const DumpInfo &info = dump->info();
    const auto T = std::uint64_t(info.numTokens);
    LayerChoices c;
    c.numExperts = info.numExperts;
    c.topK = info.topK;
    c.ids.resize(T * std::size_t(info.topK));
    c.valid.assign(T, 1);
    const double read = bestOf(runs, [&] { dump->readTopkIds(layer, 0, T, c.ids.data()); });
    const TokenPositions positions(dump->readTokenIds(0, T));
    std::int64_t sink = 0;
    // The report counts along with the drops (one pass); the counts alone for reference.
    const double countsAlone = bestOf(runs, [&] { sink += c.counts()[0]; });
    CapacityRequest drops;
    std::vector<std::int64_t> counted;
    const double dropped =
        bestOf(runs, [&] { sink += simulateDrops(c, info.sequenceOffsets, drops, &counted).dropped; });
    const double locality = bestOf(runs, [&] { sink += tokenLocality(c, info.sequenceOffsets).pairs; });
    const double vocabulary = bestOf(runs, [&] {
        sink += vocabularySpecialisation(c, positions, kDefaultVocabularyMinCount).ids;
    });
    std::printf("layer %zu of %s: T=%llu E=%d k=%d (best of %d, ms of CPU)\n", layer, argv[1], (unsigned long long)T,
                info.numExperts, info.topK, runs);
    std::printf("  read topk_ids %8.1f\n  counts, drops %8.1f   (the counts alone: %.1f)\n  locality      %8.1f\n"
                "  vocabulary    %8.1f\n  sum           %8.1f   (x %zu layers = %.2f s of CPU)\n",
                read * 1e3, dropped * 1e3, countsAlone * 1e3, locality * 1e3, vocabulary * 1e3,
                (read + dropped + locality + vocabulary) * 1e3, info.layers.size(),
                (read + dropped + locality + vocabulary) * double(info.layers.size()));
    return sink == 42 ? 1 : 0;
}
