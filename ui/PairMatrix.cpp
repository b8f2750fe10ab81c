#include "PairMatrix.h"

#include "routing/RoutingBackend.h"

#include <QCoreApplication>

namespace moescope::ui {

bool pairsApply(const DumpSnapshot &snapshot, PairKind kind, int layer, QString *why)
{
    QString problem;
    if (layer < 0 || layer >= snapshot.numLayers())
        problem = QCoreApplication::translate("PairMatrix", "Select a layer.");
    else if (isCoActivation(kind) && snapshot.info().topK < 2)
        problem = QCoreApplication::translate("PairMatrix",
                                              "Every token picks one expert (k = 1): no two experts are ever "
                                              "chosen together.");
    else if (kind == PairKind::Transitions && layer + 1 >= snapshot.numLayers())
        problem = QCoreApplication::translate("PairMatrix",
                                              "Layer %1 is the last layer: there is no next layer to follow "
                                              "tokens into.")
                      .arg(snapshot.layerName(layer));
    if (why)
        *why = problem;
    return problem.isEmpty();
}

PairMatrix countPairs(const DumpSnapshot &snapshot, PairKind kind, int layer, RoutingBackend &backend)
{
    PairMatrix m;
    m.kind = kind;
    m.layer = layer;
    m.numExperts = snapshot.numExperts();
    m.device = QString::fromStdString(backend.name());
    const LayerPassPtr pass = snapshot.analysis.pass(std::size_t(layer));
    const LayerChoices &choices = pass->choices;
    if (kind == PairKind::AdjacentCoActivation) {
        m.setCounts(adjacentCoActivation(choices)); // on the CPU: a pass of k - 1 pairs per token
        m.device = QStringLiteral("cpu");
    } else {
        m.setCounts(kind == PairKind::CoActivation
                        ? backend.coActivation(choices)
                        : backend.layerTransitions(choices, snapshot.analysis.pass(std::size_t(layer) + 1)->choices));
    }
    return m;
}

const char *pairKindChartName(PairKind kind)
{
    return kind == PairKind::CoActivation           ? "co-activation"
           : kind == PairKind::AdjacentCoActivation ? "adjacent-co-activation"
                                                    : "transitions";
}

} // namespace moescope::ui
