#include "placement/ModelPlacement.h"

#include <stdexcept>

namespace moescope {

std::vector<PlacementLayerInput> placementInputs(const DumpReport &report, const std::vector<const LayerChoices *> &choices)
{
    std::vector<PlacementLayerInput> inputs;
    for (std::size_t i = 0; i < report.layers.size(); ++i) {
        const LayerReport &l = report.layers[i];
        PlacementLayerInput in;
        in.name = l.name;
        in.load.assign(l.counts.begin(), l.counts.end());
        in.assignments = double(report.topK) * double(l.tokens);
        in.choices = i < choices.size() ? choices[i] : nullptr;
        inputs.push_back(std::move(in));
    }
    return inputs;
}

ModelPlacement placeModel(const PlacementSettings &settings, const std::vector<PlacementLayerInput> &layers,
                          double capacityFactor, const std::vector<std::vector<double>> &planLoads)
{
    if (!planLoads.empty() && planLoads.size() != layers.size())
        throw std::invalid_argument("the plan has " + std::to_string(planLoads.size()) + " layers, the dump " +
                                    std::to_string(layers.size()));
    ModelPlacement m;
    m.settings = settings;
    m.capacityFactor = capacityFactor;
    std::vector<std::vector<double>> rankLoadPerLayer;
    for (std::size_t i = 0; i < layers.size(); ++i) {
        const PlacementLayerInput &in = layers[i];
        const std::vector<double> &plan = planLoads.empty() ? in.load : planLoads[i];
        if (plan.size() != in.load.size())
            throw std::invalid_argument("layer " + in.name + ": the plan has " + std::to_string(plan.size()) +
                                        " experts, the dump " + std::to_string(in.load.size()));
        m.names.push_back(in.name);
        m.layers.push_back(evaluatePlacement(settings, plan, in.load, in.assignments, capacityFactor, in.choices));
        rankLoadPerLayer.push_back(m.layers.back().rankLoad);
    }
    m.modelStraggler = modelStragglerFactor(rankLoadPerLayer);
    return m;
}

} // namespace moescope
