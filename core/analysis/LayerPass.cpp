#include "analysis/LayerPass.h"

#include "analysis/LogitsChunks.h"

#include <algorithm>
#include <cmath>
#include <limits>

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

// Routes (or, for recorded choices, only scores) every chunk of the layer's logits.
void routeLogits(const RoutingDump &dump, std::size_t layer, const RoutingRules &rules, bool route,
                 std::uint64_t chunkRows, RoutingBackend &backend, LayerChoices &c, LossTotals &totals,
                 const Progress &progress)
{
    const std::size_t k = std::size_t(c.topK);
    std::vector<std::uint8_t> validScratch;
    auto routeChunk = [&](const LogitsView &chunk, std::int64_t first) {
        const auto begin = std::size_t(first);
        ChunkOutput out;
        if (route) {
            out.ids = c.ids.data() + begin * k;
            out.gateProbs = c.gateProbs.empty() ? nullptr : c.gateProbs.data() + begin * k;
            out.valid = c.valid.data() + begin;
        } else {
            validScratch.resize(chunk.rows);
            out.valid = validScratch.data(); // recorded choices stay valid (spec)
        }
        backend.route(chunk, rules, out, totals);
    };
    forEachLogitsChunk(dump, layer, routeChunk, progress, chunkRows);
}

double agreementOf(const LayerChoices &routed, const LargeVector<std::int32_t> &recorded, int recordedK)
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

CompactPass compactPass(const LayerPass &p)
{
    CompactPass small;
    // Every figure but the choices (a copy of those would be the whole layer).
    small.figures.choicesRecorded = p.choicesRecorded;
    small.figures.hasLosses = p.hasLosses;
    small.figures.routedCounts = p.routedCounts;
    small.figures.meanProb = p.meanProb;
    small.figures.zLoss = p.zLoss;
    small.figures.invalidTokens = p.invalidTokens;
    small.figures.agreement = p.agreement;
    small.choices = compactChoices(p.choices);
    return small;
}

LayerPass widenPass(const CompactPass &p)
{
    LayerPass wide = p.figures; // its choices are empty: a copy of the figures alone
    wide.choices = widenChoices(p.choices);
    return wide;
}

LayerPass runLayerPass(const RoutingDump &dump, std::size_t layer, const LayerPassRequest &request,
                       const Progress &progress)
{
    const DumpInfo &info = dump.info();
    const LayerInfo &li = info.layers.at(layer);
    const RoutingRules rules = request.reroute ? *request.reroute : info.routingRules(layer);
    if (li.loadOnly()) {
        // A load-only layer has no tokens' choices: the pass carries its counts alone
        // (rounded: float counts from averaged sources), and no choices.
        LayerPass pass;
        pass.choices.numExperts = info.numExperts;
        pass.choices.topK = info.topK;
        pass.choicesRecorded = true;
        for (double c : li.storedCounts)
            pass.routedCounts.push_back(std::int64_t(std::llround(c)));
        progress.report(1.0);
        return pass;
    }
    const bool route = request.reroute.has_value() || !li.hasTopkIds;
    if (route && !li.hasLogits)
        throw DumpError(info.path, "/layers/" + li.name, "has no logits to route from");

    const auto T = std::uint64_t(info.numTokens);
    const int E = info.numExperts;
    LayerPass pass;
    LayerChoices &c = pass.choices;
    c.numExperts = E;
    c.topK = route ? rules.topK : info.topK;
    if (request.recycle) {
        c.ids.swap(request.recycle->ids);
        c.valid.swap(request.recycle->valid);
    }
    c.ids.resize(T * std::size_t(c.topK)); // every row is written below (invalid ones zeroed)
    c.valid.assign(T, 1);
    if (route && request.keepGateProbs)
        c.gateProbs.assign(c.ids.size(), 0.0f);
    pass.choicesRecorded = !route;
    const std::uint64_t chunkRows = request.chunkRows ? request.chunkRows : defaultChunkRows(info, layer);

    // The recorded choices: the statistics themselves, or the reference for agreement.
    LargeVector<std::int32_t> recorded;
    const double recordedShare = li.hasTopkIds ? (li.hasLogits ? 0.3 : 1.0) : 0.0;
    if (li.hasTopkIds) {
        LargeVector<std::int32_t> &target = route ? recorded : c.ids;
        target.resize(T * std::size_t(info.topK));
        const std::uint64_t blockRows = wholeChunks(std::uint64_t(1) << 21, li.topkIdsChunkRows);
        for (std::uint64_t begin = 0; begin < T; begin += blockRows) {
            progress.checkCancelled();
            const std::uint64_t rows = std::min(blockRows, T - begin);
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
        routeLogits(dump, layer, rules, route, chunkRows, *backend, c, totals, rest);
        if (route && totals.invalidRows > 0) // the backend leaves their rows as they were
            for (std::uint64_t t = 0; t < T; ++t)
                if (!c.valid[t])
                    std::fill_n(c.ids.begin() + std::ptrdiff_t(t * std::size_t(c.topK)), c.topK, 0);
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
