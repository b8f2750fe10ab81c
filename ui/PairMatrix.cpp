#include "PairMatrix.h"

#include "routing/RoutingBackend.h"

#include <QCoreApplication>

#include <cmath>

namespace moescope::ui {

void PairMatrix::setCounts(std::vector<std::int64_t> matrix)
{
    counts = std::move(matrix);
    totals.assign(std::size_t(numExperts), 0);
    for (int e1 = 0; e1 < numExperts; ++e1)
        if (kind == PairKind::CoActivation)
            totals[std::size_t(e1)] = count(e1, e1);
        else
            for (int e2 = 0; e2 < numExperts; ++e2)
                totals[std::size_t(e1)] += count(e1, e2);
}

double PairMatrix::share(int e1, int e2) const
{
    const std::int64_t total = rowTotal(e1);
    if (total == 0 || (kind == PairKind::CoActivation && e1 == e2))
        return NAN;
    return double(count(e1, e2)) / double(total);
}

double PairMatrix::uniformShare(int topK) const
{
    if (kind == PairKind::Transitions)
        return numExperts > 0 ? 1.0 / numExperts : NAN;
    return numExperts > 1 ? double(topK - 1) / double(numExperts - 1) : NAN;
}

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
