#include "PairMatrix.h"

#include "routing/RoutingBackend.h"

#include <QCoreApplication>

namespace moescope::ui {

bool pairsApply(const DumpSnapshot &snapshot, PairKind kind, int layer, QString *why)
{
    QString problem;
    if (layer < 0 || layer >= snapshot.numLayers())
        problem = QCoreApplication::translate("PairMatrix", "Select a layer.");
    else if (kind == PairKind::CoActivation && snapshot.info().topK < 2)
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
    const auto &passes = snapshot.analysis.passes;
    m.setCounts(kind == PairKind::CoActivation
                    ? backend.coActivation(passes[std::size_t(layer)].choices)
                    : backend.layerTransitions(passes[std::size_t(layer)].choices,
                                               passes[std::size_t(layer) + 1].choices));
    return m;
}

const char *pairKindChartName(PairKind kind)
{
    return kind == PairKind::CoActivation ? "co-activation" : "transitions";
}

} // namespace moescope::ui
