#include "analysis/TokenSearch.h"

#include <algorithm>
#include <atomic>
#include <exception>
#include <mutex>
#include <thread>

namespace moescope {

namespace {
// Each thread holds a few bands of rows while it reads (LayerStore::rowsAt).
constexpr unsigned kMaxThreads = 8;

// Every wanted id's positions in one ascending list, with the place in `wanted` each
// belongs to: one pass over a layer's rows serves all the ids.
struct MergedPositions {
    std::vector<std::int64_t> positions;
    std::vector<std::uint32_t> slots;
};

MergedPositions mergePositions(const TokenPositions &index, const std::vector<std::int64_t> &wanted)
{
    const std::vector<std::ptrdiff_t> places = firstPlaces(wanted);
    std::vector<std::pair<std::int64_t, std::uint32_t>> all;
    for (std::size_t i = 0; i < wanted.size(); ++i)
        if (places[i] >= 0)
            for (const std::int64_t t : index.of(wanted[i]))
                all.emplace_back(t, std::uint32_t(i));
    std::sort(all.begin(), all.end()); // each id's list is ascending already; ids interleave
    MergedPositions m;
    m.positions.reserve(all.size());
    m.slots.reserve(all.size());
    for (const auto &[t, slot] : all) {
        m.positions.push_back(t);
        m.slots.push_back(slot);
    }
    return m;
}
} // namespace

std::vector<std::vector<std::vector<TokenShare>>> routingOfTokensAtEveryLayer(const DumpAnalysis &a,
                                                                              const TokenPositions &positions,
                                                                              const std::vector<std::int64_t> &wanted,
                                                                              const Progress &progress,
                                                                              unsigned threads)
{
    const std::size_t L = a.numLayers();
    std::vector<std::vector<std::vector<TokenShare>>> result(L, std::vector<std::vector<TokenShare>>(wanted.size()));
    if (!a.layers)
        throw std::logic_error("routingOfTokensAtEveryLayer: the analysis has no layers yet");
    const MergedPositions merged = mergePositions(positions, wanted);
    if (merged.positions.empty() || L == 0)
        return result; // no wanted id occurs: no layer has anything to say
    const int E = a.info.numExperts, k = a.info.topK;

    // Layers to read first: they take longest, and the cheap ones in memory fill in.
    std::vector<std::size_t> order;
    for (std::size_t l = 0; l < L; ++l)
        if (!a.layers->inMemory(l))
            order.push_back(l);
    for (std::size_t l = 0; l < L; ++l)
        if (std::find(order.begin(), order.end(), l) == order.end())
            order.push_back(l);

    const auto answerLayer = [&](std::size_t l, const Progress &p) {
        const LayerReport &report = a.report.layers[l];
        if (report.countsOnly)
            return;
        TokenRouteTally tally(E, k, wanted.size());
        a.layers->rowsAt(
            l, merged.positions,
            [&](std::size_t first, std::size_t n, const std::int32_t *ids, const std::uint8_t *valid) {
                for (std::size_t j = 0; j < n; ++j)
                    tally.add(merged.slots[first + j], ids + j * std::size_t(k), valid[j] != 0);
            },
            p);
        result[l] = tally.answers(report.counts, report.tokens);
    };

    std::atomic<std::size_t> next{0}, done{0};
    std::atomic<bool> failed{false};
    std::exception_ptr error;
    std::mutex errorMutex;
    // The calling thread works too, and alone reports progress (Progress.h's reporter
    // need not be thread-safe); helpers only watch the cancel flag.
    const auto work = [&](bool caller) {
        const Progress p = progress.quiet();
        try {
            for (std::size_t i; !failed.load() && (i = next.fetch_add(1)) < order.size();) {
                progress.checkCancelled();
                answerLayer(order[i], p);
                const std::size_t finished = done.fetch_add(1) + 1;
                if (caller)
                    progress.report(double(finished) / double(L));
            }
        } catch (...) {
            const std::lock_guard lock(errorMutex);
            if (!error)
                error = std::current_exception();
            failed = true;
        }
    };
    const unsigned cores = threads ? threads : std::clamp(std::thread::hardware_concurrency(), 1u, kMaxThreads);
    std::vector<std::thread> helpers;
    for (unsigned h = 1; h < std::min<std::size_t>(cores, order.size()); ++h)
        helpers.emplace_back(work, false);
    work(true);
    for (std::thread &t : helpers)
        t.join();
    if (error)
        std::rethrow_exception(error);
    progress.report(1.0);
    return result;
}

} // namespace moescope
