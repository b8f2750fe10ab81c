#include "analysis/CheckpointComparison.h"

#include "analysis/LogitsChunks.h"

#include <algorithm>
#include <memory>
#include <set>

namespace moescope {

namespace {

[[noreturn]] void mismatch(const std::string &a, const std::string &b, const std::string &what)
{
    throw CheckpointMismatch(a + " and " + b + " are not checkpoints of the same tokens: " + what);
}

// Where a layer's choices come from, per dump.
struct LayerSource {
    const RoutingDump *dump = nullptr;
    std::size_t layer = 0;
    bool recorded = false;
    RoutingRules rules;
    ChunkSlot slot;
    std::vector<std::int32_t> ids;
    std::vector<std::uint8_t> valid;

    void read(std::uint64_t begin, std::uint64_t rows, int k, RoutingBackend &backend)
    {
        ids.resize(rows * std::size_t(k));
        valid.resize(rows);
        if (recorded) {
            dump->readTopkIds(layer, begin, rows, ids.data());
            std::fill(valid.begin(), valid.end(), std::uint8_t(1)); // recorded choices are always valid (routing.md)
            return;
        }
        slot.fill(*dump, layer, begin, rows);
        ChunkOutput out;
        out.ids = ids.data();
        out.valid = valid.data();
        out.losses = false;
        LossTotals totals;
        backend.route(slot.view, rules, out, totals);
    }
};

std::optional<std::size_t> layerNamed(const DumpInfo &info, const std::string &name)
{
    for (std::size_t l = 0; l < info.layers.size(); ++l)
        if (info.layers[l].name == name)
            return l;
    return std::nullopt;
}

} // namespace

std::size_t defaultReference(const std::vector<const DumpInfo *> &infos)
{
    std::optional<std::size_t> best;
    for (std::size_t i = 0; i < infos.size(); ++i) {
        const auto &step = infos[i]->checkpointStep;
        if (step && (!best || *step >= *infos[*best]->checkpointStep))
            best = i;
    }
    return best ? *best : infos.size() - 1;
}

void checkSameTokens(const std::vector<const RoutingDump *> &dumps, const Progress &progress)
{
    const DumpInfo &a = dumps.front()->info();
    for (std::size_t i = 1; i < dumps.size(); ++i) {
        const DumpInfo &b = dumps[i]->info();
        if (a.numTokens != b.numTokens)
            mismatch(a.path, b.path, "/tokens/ids holds " + std::to_string(a.numTokens) + " tokens in the first, " +
                                         std::to_string(b.numTokens) + " in the second");
        if (a.numExperts != b.numExperts)
            mismatch(a.path, b.path, "attribute num_experts is " + std::to_string(a.numExperts) + " in the first, " +
                                         std::to_string(b.numExperts) + " in the second");
        if (a.topK != b.topK)
            mismatch(a.path, b.path, "attribute top_k is " + std::to_string(a.topK) + " in the first, " +
                                         std::to_string(b.topK) + " in the second");
    }
    const auto T = std::uint64_t(a.numTokens);
    constexpr std::uint64_t kChunk = 1u << 20;
    for (std::uint64_t begin = 0; begin < T; begin += kChunk) {
        progress.checkCancelled();
        const std::uint64_t rows = std::min(kChunk, T - begin);
        const std::vector<std::int64_t> first = dumps.front()->readTokenIds(begin, rows);
        for (std::size_t i = 1; i < dumps.size(); ++i) {
            const std::vector<std::int64_t> other = dumps[i]->readTokenIds(begin, rows);
            const auto diff = std::mismatch(first.begin(), first.end(), other.begin());
            if (diff.first != first.end()) {
                const std::uint64_t at = begin + std::uint64_t(diff.first - first.begin());
                mismatch(a.path, dumps[i]->info().path,
                         "/tokens/ids differs first at position " + std::to_string(at) + " (id " +
                             std::to_string(*diff.first) + " in the first, " + std::to_string(*diff.second) +
                             " in the second)");
            }
        }
        progress.report(double(begin + rows) / double(T));
    }
}

CheckpointComparison compareCheckpoints(const std::vector<const RoutingDump *> &dumps, const CompareRequest &request,
                                        const Progress &progress)
{
    if (dumps.size() < 2)
        throw std::invalid_argument("comparing checkpoints needs at least two dumps");
    std::vector<const DumpInfo *> infos;
    for (const RoutingDump *d : dumps)
        infos.push_back(&d->info());
    if (request.reference && *request.reference >= dumps.size())
        throw std::invalid_argument("the reference must be one of the dumps");

    CheckpointComparison result;
    for (const DumpInfo *info : infos) {
        result.files.push_back(info->path);
        result.steps.push_back(info->checkpointStep);
    }
    result.reference = request.reference ? *request.reference : defaultReference(infos);
    result.order.resize(dumps.size());
    for (std::size_t i = 0; i < dumps.size(); ++i)
        result.order[i] = i;
    const bool allSteps = std::all_of(infos.begin(), infos.end(), [](const DumpInfo *i) { return i->checkpointStep.has_value(); });
    if (allSteps)
        std::stable_sort(result.order.begin(), result.order.end(),
                         [&](std::size_t x, std::size_t y) { return *infos[x]->checkpointStep < *infos[y]->checkpointStep; });
    result.numExperts = infos.front()->numExperts;
    result.topK = infos.front()->topK;
    result.tokens = infos.front()->numTokens;

    checkSameTokens(dumps, progress.part(0, 0.05));

    // Layers matched by name; those missing somewhere are left out with a warning.
    std::vector<std::string> common, partial;
    std::set<std::string> seen;
    for (const DumpInfo *info : infos)
        for (const LayerInfo &l : info->layers) {
            if (!seen.insert(l.name).second)
                continue;
            const bool everywhere = std::all_of(infos.begin(), infos.end(),
                                                [&](const DumpInfo *i) { return layerNamed(*i, l.name).has_value(); });
            (everywhere ? common : partial).push_back(l.name);
        }
    for (const std::string &name : partial) {
        std::string holders;
        for (const DumpInfo *info : infos)
            if (layerNamed(*info, name))
                holders += (holders.empty() ? "" : ", ") + info->path;
        result.warnings.push_back("layer " + name + " is left out: only " + holders + " hold" +
                                  (holders.find(", ") == std::string::npos ? "s" : "") + " it");
    }

    std::unique_ptr<RoutingBackend> own;
    RoutingBackend *backend = request.backend;
    if (!backend) {
        own = makeCpuBackend();
        backend = own.get();
    }
    const int E = result.numExperts, k = result.topK;
    const auto T = std::uint64_t(result.tokens);
    const std::uint64_t chunk = request.chunkRows ? request.chunkRows : 65536;
    const Progress layersPart = progress.part(0.05, 1.0);
    std::vector<LayerSource> sources(dumps.size());
    for (std::size_t li = 0; li < common.size(); ++li) {
        for (std::size_t d = 0; d < dumps.size(); ++d) {
            LayerSource &s = sources[d];
            s.dump = dumps[d];
            s.layer = *layerNamed(*infos[d], common[li]);
            const LayerInfo &info = infos[d]->layers[s.layer];
            s.recorded = info.hasTopkIds;
            s.rules = infos[d]->routingRules(s.layer);
            if (!s.recorded && !info.hasLogits)
                throw DumpError(infos[d]->path, "/layers/" + info.name, "has neither topk_ids nor logits");
        }
        CheckpointAccumulator acc(E, k, dumps.size(), result.reference, result.order);
        std::vector<const std::int32_t *> ids(dumps.size());
        std::vector<const std::uint8_t *> valid(dumps.size());
        const Progress part = layersPart.part(double(li) / double(common.size()), double(li + 1) / double(common.size()));
        for (std::uint64_t begin = 0; begin < T; begin += chunk) {
            progress.checkCancelled();
            const std::uint64_t rows = std::min(chunk, T - begin);
            for (std::size_t d = 0; d < dumps.size(); ++d) {
                sources[d].read(begin, rows, k, *backend);
                ids[d] = sources[d].ids.data();
                valid[d] = sources[d].valid.data();
            }
            acc.add(ids, valid, rows);
            part.report(double(begin + rows) / double(T));
        }
        result.layers.push_back({common[li], acc.figures()});
    }
    progress.report(1.0);
    return result;
}

} // namespace moescope
