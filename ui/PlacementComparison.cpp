#include "PlacementComparison.h"

#include <QObject>

namespace moescope::ui {

PlacementRequest defaultPlacementRequest(int numExperts)
{
    int ranks = 1;
    for (int r = 1; r <= 8; ++r)
        if (numExperts % r == 0)
            ranks = r;
    PlacementRequest request;
    request.before.ranks = ranks;
    request.before.policy = PlacementPolicy::Contiguous;
    request.after.ranks = ranks;
    request.after.policy = PlacementPolicy::Eplb;
    request.after.physicalExperts = numExperts + ranks;
    return request;
}

PlacementComparison comparePlacements(const DumpSnapshot &snapshot, const PlacementRequest &request,
                                      const Progress &progress)
{
    PlacementComparison c;
    c.request = request;
    c.numExperts = snapshot.numExperts();
    const DumpAnalysis &a = snapshot.analysis;
    // The all-to-all needs every layer's choices at once: only when they are all in
    // memory (a dump too large for that is placed on its counts).
    std::vector<LayerPassPtr> passes;
    std::vector<const LayerChoices *> choices;
    const bool perToken = a.info.hasTokens && !a.info.anyLoadOnly();
    for (std::size_t l = 0; perToken && l < a.numLayers() && a.layers && a.layers->allResident(); ++l)
        if (LayerPassPtr p = a.layers->resident(l)) {
            choices.push_back(&p->choices);
            passes.push_back(std::move(p));
        }
    c.hasTokens = !choices.empty() && choices.size() == a.report.layers.size();
    const std::vector<PlacementLayerInput> inputs =
        placementInputs(a.report, c.hasTokens ? choices : std::vector<const LayerChoices *>{});
    for (const PlacementLayerInput &in : inputs)
        c.loads.push_back(in.load);
    progress.checkCancelled();
    c.before = placeModel(request.before, inputs, a.report.capacityFactor);
    progress.report(0.5);
    progress.checkCancelled();
    c.after = placeModel(request.after, inputs, a.report.capacityFactor);
    progress.report(1.0);
    return c;
}

QString placementTitle(const PlacementSettings &s, int numExperts)
{
    switch (s.policy) {
    case PlacementPolicy::Contiguous: return QObject::tr("contiguous");
    case PlacementPolicy::RoundRobin: return QObject::tr("round-robin");
    case PlacementPolicy::Eplb: break;
    }
    return QObject::tr("EPLB (P = %1, G = %2, N = %3)")
        .arg(s.physicalExperts > 0 ? s.physicalExperts : numExperts)
        .arg(s.groups)
        .arg(s.nodes);
}

} // namespace moescope::ui
