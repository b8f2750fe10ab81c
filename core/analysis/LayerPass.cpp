#include "analysis/LayerPass.h"

#include <algorithm>
#include <cmath>
#include <future>
#include <limits>
#include <type_traits>

namespace moescope {

namespace {

bool sameSet(const std::int32_t *a, const std::int32_t *b, int k)
{
    for (int i = 0; i < k; ++i)
        if (std::find(b, b + k, a[i]) == b + k)
            return false;
    for (int i = 0; i < k; ++i)
        if (std::find(a, a + k, b[i]) == a + k)
            return false;
    return true;
}

template <typename Real>
void streamLogits(const RoutingDump &dump, std::size_t layer, const RoutingRules &rules, bool route,
                  std::uint64_t chunkRows, RoutingBackend &backend, LayerChoices &c, LossTotals &totals,
                  const Progress &progress)
{
    const DumpInfo &info = dump.info();
    const int E = info.numExperts;
    const std::size_t k = std::size_t(c.topK);
    const auto T = std::uint64_t(info.numTokens);
    // Two buffers: a reader fills the next chunk (HDF5 behind the io lock, in
    // RoutingDump) while the backend routes the current one. float16 stored plainly
    // is mapped in place instead (no copy), the reader taking the page faults.
    std::vector<Real> buffers[2];
    io::MappedRows mapped[2];
    const Real *rowsOf[2] = {nullptr, nullptr};
    std::vector<std::uint8_t> validScratch;
    auto read = [&](int which, std::uint64_t begin) {
        const std::uint64_t rows = std::min(chunkRows, T - begin);
        if constexpr (std::is_same_v<Real, std::uint16_t>) {
            mapped[which] = dump.mapHalves(layer, begin, rows);
            if (!mapped[which].empty()) {
                rowsOf[which] = static_cast<const Real *>(mapped[which].data());
                return;
            }
        }
        buffers[which].resize(rows * std::size_t(E));
        dump.readLogits(layer, begin, rows, buffers[which].data());
        rowsOf[which] = buffers[which].data();
    };
    // Declared after the buffers: should routing throw, the pending read finishes
    // before the buffers go.
    std::future<void> next;
    if (T > 0) {
        progress.checkCancelled();
        read(0, 0);
    }
    int current = 0;
    for (std::uint64_t begin = 0; begin < T; begin += chunkRows, current ^= 1) {
        progress.checkCancelled();
        const std::uint64_t rows = std::min(chunkRows, T - begin);
        if (begin + rows < T)
            next = std::async(std::launch::async, read, current ^ 1, begin + rows);
        const Real *logits = rowsOf[current];
        ChunkOutput out;
        if (route) {
            out.ids = c.ids.data() + begin * k;
            out.gateProbs = c.gateProbs.empty() ? nullptr : c.gateProbs.data() + begin * k;
            out.valid = c.valid.data() + begin;
        } else {
            validScratch.resize(rows);
            out.valid = validScratch.data(); // recorded choices stay valid (spec)
        }
        backend.routeChunk(logits, rows, E, rules, out, totals);
        if (next.valid())
            next.get(); // the next chunk is in (or its read failed: rethrown here)
        progress.report(double(begin + rows) / double(T));
    }
}

double agreementOf(const LayerChoices &routed, const std::vector<std::int32_t> &recorded, int recordedK)
{
    std::int64_t same = 0, validTokens = 0;
    for (std::int64_t t = 0; t < routed.numPositions(); ++t) {
        if (!routed.valid[t])
            continue;
        ++validTokens;
        same += routed.topK == recordedK &&
                sameSet(routed.ids.data() + t * routed.topK, recorded.data() + t * recordedK, recordedK);
    }
    return validTokens ? double(same) / double(validTokens) : std::numeric_limits<double>::quiet_NaN();
}

} // namespace

LayerPass runLayerPass(const RoutingDump &dump, std::size_t layer, const LayerPassRequest &request,
                       const Progress &progress)
{
    const DumpInfo &info = dump.info();
    const LayerInfo &li = info.layers.at(layer);
    const RoutingRules rules = request.reroute ? *request.reroute : info.routingRules(layer);
    const bool route = request.reroute.has_value() || !li.hasTopkIds;
    if (route && !li.hasLogits)
        throw DumpError(info.path, "/layers/" + li.name, "has no logits to route from");

    const auto T = std::uint64_t(info.numTokens);
    const int E = info.numExperts;
    LayerPass pass;
    LayerChoices &c = pass.choices;
    c.numExperts = E;
    c.topK = route ? rules.topK : info.topK;
    c.ids.assign(T * std::size_t(c.topK), 0);
    c.valid.assign(T, 1);
    if (route && request.keepGateProbs)
        c.gateProbs.assign(c.ids.size(), 0.0f);
    pass.choicesRecorded = !route;
    // Chunks of 16 MB of logits as stored: large enough that the hand-overs between
    // reader and routing threads cost little, small enough to keep memory bounded.
    const std::uint64_t logitBytes = li.logitsType == "float16" ? 2 : li.logitsType == "float64" ? 8 : 4;
    const std::uint64_t chunkRows = request.chunkRows
        ? request.chunkRows
        : std::max<std::uint64_t>(1, (16u << 20) / (std::uint64_t(E) * logitBytes));

    // The recorded choices: the statistics themselves, or the reference for agreement.
    std::vector<std::int32_t> recorded;
    const double recordedShare = li.hasTopkIds ? (li.hasLogits ? 0.3 : 1.0) : 0.0;
    if (li.hasTopkIds) {
        std::vector<std::int32_t> &target = route ? recorded : c.ids;
        target.resize(T * std::size_t(info.topK));
        for (std::uint64_t begin = 0; begin < T; begin += chunkRows) {
            progress.checkCancelled();
            const std::uint64_t rows = std::min(chunkRows, T - begin);
            dump.readTopkIds(layer, begin, rows, target.data() + begin * info.topK);
            progress.report(recordedShare * double(begin + rows) / double(T));
        }
    }

    if (li.hasLogits) {
        LossTotals totals;
        totals.probSum.assign(E, 0.0);
        std::unique_ptr<RoutingBackend> own;
        RoutingBackend *backend = request.backend;
        if (!backend) {
            own = makeCpuBackend();
            backend = own.get();
        }
        const Progress rest = progress.part(recordedShare, 1.0);
        if (li.logitsType == "float64")
            streamLogits<double>(dump, layer, rules, route, chunkRows, *backend, c, totals, rest);
        else if (li.logitsType == "float16") // raw halves: the backend converts them
            streamLogits<std::uint16_t>(dump, layer, rules, route, chunkRows, *backend, c, totals, rest);
        else
            streamLogits<float>(dump, layer, rules, route, chunkRows, *backend, c, totals, rest);
        pass.hasLosses = true;
        if (route)
            pass.routedCounts = totals.counts; // counted in the routing pass itself
        pass.invalidTokens = totals.invalidRows;
        pass.meanProb.assign(E, 0.0);
        for (int e = 0; e < E; ++e)
            pass.meanProb[e] = totals.validRows ? totals.probSum[e] / double(totals.validRows) : 0.0;
        pass.zLoss = rules.inputsAreProbabilities || !totals.validRows
                         ? std::numeric_limits<double>::quiet_NaN()
                         : totals.zSquaredSum / double(totals.validRows);
    }
    if (route && li.hasTopkIds)
        pass.agreement = agreementOf(c, recorded, info.topK);
    return pass;
}

} // namespace moescope
