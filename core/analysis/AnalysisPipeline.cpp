#include "analysis/AnalysisPipeline.h"

#include "analysis/BalanceReplay.h"
#include "analysis/ExpertChoiceReplay.h"
#include "analysis/LayerStore.h"
#include "routing/BackendFactory.h"

#include <algorithm>
#include <future>
#include <memory>
#include <stdexcept>

namespace moescope {

namespace {

// Shares of one layer's part of the progress bar: each what-if reads the layer's
// logits once more, about as long as the routing pass itself.
struct LayerWeights {
    double pass = 1, sweep = 0, expertChoice = 0, balance = 0, recorded = 0;
    double total() const { return pass + sweep + expertChoice + balance + recorded; }
};

LayerWeights weightsOf(const AnalysisRequest &r)
{
    LayerWeights w;
    w.sweep = r.capacitySweep ? 0.1 : 0;
    w.expertChoice = r.expertChoice ? 1 : 0;
    w.balance = r.balance ? 1 : 0;
    w.recorded = r.compareWithRecorded && !r.recorded ? 0.5 : 0;
    return w;
}

void checkRequest(const DumpInfo &info, const AnalysisRequest &r)
{
    if (r.capacityFactor && !(*r.capacityFactor > 0))
        throw std::invalid_argument("the capacity factor must be positive");
    if (r.capacitySweep && r.capacitySweep->empty())
        throw std::invalid_argument("the capacity sweep needs at least one capacity factor");
    if (r.balance && (!(r.balance->rate > 0) || r.balance->batchTokens < 1))
        throw std::invalid_argument("bias balancing needs a positive rate and at least one token per batch");
    if (r.recorded && r.recorded->numLayers() != info.layers.size())
        throw std::invalid_argument("the recorded passes must be one per layer of the dump");
    for (std::size_t l : r.onlyLayers)
        if (l >= info.layers.size())
            throw std::invalid_argument("layer " + std::to_string(l) + " is not in the dump (it has " +
                                        std::to_string(info.layers.size()) + ")");
    if ((r.expertChoice || r.balance) && !r.reroute)
        throw std::invalid_argument("expert choice and bias balancing re-route the logits: give the rules");
}

// The rules a layer is re-routed with: the request's, with the layer's own bias and
// probability flag (the bias is part of how that layer routes).
RoutingRules layerRules(const DumpInfo &info, std::size_t layer, const RoutingRules &rules)
{
    RoutingRules r = rules;
    r.expertBias = info.layers[layer].expertBias;
    r.inputsAreProbabilities = info.layers[layer].logitsAreProbabilities;
    return r;
}

} // namespace

DropPolicy sweepPolicyFor(DropPolicy policy)
{
    return policy == DropPolicy::ScorePriority ? DropPolicy::ScorePriority : DropPolicy::TokenOrder;
}

std::vector<std::size_t> analysedLayers(const DumpInfo &info, const AnalysisRequest &request)
{
    const bool logitsOnly = request.logitsLayersOnly || request.reroute.has_value();
    std::vector<std::size_t> positions;
    for (std::size_t l = 0; l < info.layers.size(); ++l) {
        const bool asked = request.onlyLayers.empty() ||
                           std::find(request.onlyLayers.begin(), request.onlyLayers.end(), l) != request.onlyLayers.end();
        if (asked && (!logitsOnly || info.layers[l].hasLogits))
            positions.push_back(l);
    }
    return positions;
}

AnalysisResult runAnalysis(const RoutingDump &dump, const AnalysisRequest &request, const Progress &progress,
                           const LayerReady &onLayer)
{
    const DumpInfo &info = dump.info();
    checkRequest(info, request);
    std::unique_ptr<RoutingBackend> ownBackend;
    RoutingBackend *backend = request.backend;
    if (!backend) {
        std::string notice;
        ownBackend = makeBackend(Device::Cpu, notice);
        backend = ownBackend.get();
    }

    AnalysisResult result;
    result.info = info;
    const double cf = effectiveCapacityFactor(info, request.capacityFactor);
    result.drops = request.drops;
    result.drops.capacityFactor = cf;
    result.sweepPolicy = sweepPolicyFor(request.drops.policy);
    ReportRequest reportRequest{cf, result.drops};
    // Before: the recorded choices under the same capacity. Score priority needs gate
    // probabilities recorded choices lack; the dropped fraction is the same under both
    // policies, so token order stands in.
    ReportRequest recordedRequest = reportRequest;
    if (recordedRequest.drops.policy == DropPolicy::ScorePriority)
        recordedRequest.drops.policy = DropPolicy::TokenOrder;

    DumpReport &report = result.report;
    report.file = info.path;
    report.tokens = info.numTokens;
    report.numExperts = info.numExperts;
    report.topK = request.reroute ? request.reroute->topK : info.topK;
    report.capacityFactor = cf;
    report.warnings = info.warnings;

    constexpr double kTrainingPart = 0.02;
    const double layersTo = request.readTokens ? 1.0 - kTrainingPart : 1.0;
    progress.checkCancelled();

    // The token ids and vocabulary (for the result), and the ids indexed once for every
    // layer's vocabulary specialisation, while the first layer is read: at 10 M tokens
    // they take a second. The first report waits for the index; the rest is joined
    // before the result goes out.
    TokenPositions tokenPositions;
    const bool vocabulary = request.vocabulary && request.vocabularyMinCount >= 1;
    std::future<TokenPositions> tokensReady;
    if (request.readTokens || vocabulary)
        tokensReady = std::async(std::launch::async, [&] {
            if (request.readTokens) {
                result.tokenIds = dump.readTokenIds(0, std::uint64_t(info.numTokens));
                result.vocab = dump.readVocab();
            }
            if (!vocabulary)
                return TokenPositions();
            return request.readTokens ? TokenPositions(result.tokenIds)
                                      : TokenPositions(dump.readTokenIds(0, std::uint64_t(info.numTokens)));
        });
    if (vocabulary) {
        reportRequest.tokenPositions = &tokenPositions;
        reportRequest.vocabularyMinCount = request.vocabularyMinCount;
    }
    auto tokensRead = [&] {
        if (tokensReady.valid())
            tokenPositions = tokensReady.get();
    };

    const std::vector<std::size_t> positions = analysedLayers(info, request);
    const LayerWeights weights = weightsOf(request);
    const Progress layers = progress.part(0.0, layersTo);

    // A layer's statistics (single-threaded) run while the next layer is routed (on
    // the backend's threads); its results go out once they are done.
    std::unique_ptr<LayerAnalysis> pending;
    std::future<LayerReport> pendingReport;
    LayerChoices spare; // the buffers of a delivered pass, for the next one
    auto deliver = [&] {
        if (!pending)
            return;
        pending->report = pendingReport.get();
        report.layers.push_back(pending->report);
        // onLayer sees the layer's choices (the placement's all-to-all streams over
        // them); the result keeps them only when asked to.
        if (onLayer)
            onLayer(*pending);
        if (!request.keepPasses) {
            spare = std::move(pending->pass->choices);
            pending->pass.reset();
        }
        result.layers.push_back(std::move(*pending));
        pending.reset();
    };

    const std::size_t n = positions.size();
    for (std::size_t i = 0; i < n; ++i) {
        const std::size_t l = positions[i];
        const Progress part = layers.part(double(i) / double(n), double(i + 1) / double(n));
        double at = 0;
        auto step = [&](double weight) {
            const Progress p = part.part(at / weights.total(), (at + weight) / weights.total());
            at += weight;
            return p;
        };

        LayerPassRequest passRequest;
        passRequest.backend = backend;
        if (request.reroute)
            passRequest.reroute = layerRules(info, l, *request.reroute);
        passRequest.keepGateProbs = result.sweepPolicy == DropPolicy::ScorePriority;
        passRequest.recycle = &spare;
        LayerPass pass = runLayerPass(dump, l, passRequest, step(weights.pass));

        // The previous layer's statistics end here, so the what-ifs below (expert
        // choice holds E x 9C/8 candidates) run beside this layer's pass only.
        deliver();
        auto current = std::make_unique<LayerAnalysis>();
        current->position = l;
        const Progress sweepPart = step(weights.sweep);
        if (request.capacitySweep && !info.layers[l].loadOnly()) { // no choices to drop
            current->sweep = backend->sweepCapacity(
                rankAssignments(pass.choices, info.sequenceOffsets, result.sweepPolicy, result.drops.group),
                *request.capacitySweep);
            sweepPart.report(1.0);
        }
        const Progress choicePart = step(weights.expertChoice);
        if (request.expertChoice)
            current->expertChoice = replayExpertChoice(dump, l, pass.choices, *passRequest.reroute, cf,
                                                       result.drops.group, choicePart);
        const Progress balancePart = step(weights.balance);
        if (request.balance)
            current->balance = replayBalance(dump, l, *backend, *passRequest.reroute, request.balance->rate,
                                             request.balance->batchTokens, balancePart);
        const Progress recordedPart = step(weights.recorded);
        if (request.compareWithRecorded) {
            if (request.recorded) {
                current->recorded = layerReport(info, l, *request.recorded->pass(l, recordedPart), recordedRequest);
            } else {
                LayerPassRequest recordedPass;
                recordedPass.backend = backend;
                current->recorded =
                    layerReport(info, l, runLayerPass(dump, l, recordedPass, recordedPart), recordedRequest);
            }
        }
        progress.checkCancelled();
        tokensRead();
        current->pass = std::move(pass);
        const LayerPass *done = &*current->pass;
        pending = std::move(current);
        pendingReport = std::async(std::launch::async, [&info, reportRequest, l, done] {
            return layerReport(info, l, *done, reportRequest);
        });
    }
    deliver();
    tokensRead();

    if (request.readTokens && info.hasTraining)
        result.training = dump.readTraining();
    progress.report(1.0);
    return result;
}

DumpReport buildReport(const RoutingDump &dump, const AnalysisRequest &request, const Progress &progress)
{
    return runAnalysis(dump, request, progress).report;
}

} // namespace moescope
