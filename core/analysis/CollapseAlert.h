#pragma once
// The collapse alert of analyses.md, for following a live run step by step. At a
// logged step a layer is collapsing when at least max(1, ceil(0.1 E)) of its experts
// are cold (c[e] < 0.1 m) or its MaxVio exceeds 2; the alert is raised when some layer
// has been collapsing at each of the last W logged steps. m is the layer's mean count
// over its experts (k T / E for a dropless layer).
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace moescope {

// One layer at one logged step.
struct LayerStepHealth {
    double cv = 0, maxVio = 0; // NaN cv when only a recorded MaxVio is known
    int hot = 0, cold = 0;     // hot: c[e] > CF * m; cold: c[e] < 0.1 m
    bool coldCollapse = false, maxVioCollapse = false;
    bool collapsing() const { return coldCollapse || maxVioCollapse; }
};

// From one layer's counts c[0..E).
LayerStepHealth layerStepHealth(const std::int64_t *counts, std::size_t numExperts, double capacityFactor);

// What one logged step looked like: its worst layer (collapsing layers first, then
// the largest MaxVio, ties to the lower position) and that layer's figures.
struct StepSummary {
    std::int64_t step = 0;
    std::size_t worstLayer = 0;
    LayerStepHealth worst;
};

struct CollapseAlert {
    std::size_t layer = 0;      // position in the run log's layer order
    std::int64_t sinceStep = 0; // the step at which the streak began
    std::int64_t step = 0;      // the step at which the alert was raised
    std::string condition;      // "cold" or "max_vio"
};

// Follows the logged steps in order and raises the alert once.
class CollapseWatch {
public:
    CollapseWatch(std::size_t numLayers, std::size_t numExperts, int window = 3, double capacityFactor = 1.25);

    // counts: [L * E] of this step, or nullptr when the run log records no counts, in
    // which case recordedMaxVio ([L]) alone decides (a cold expert cannot be seen).
    StepSummary add(std::int64_t step, const std::int64_t *counts, const double *recordedMaxVio = nullptr);

    const std::optional<CollapseAlert> &alert() const { return m_alert; }
    int window() const { return m_window; }

private:
    struct Streak {
        int length = 0;
        std::int64_t since = 0;
        bool coldAll = true, maxVioAll = true;
    };
    std::size_t m_layers, m_experts;
    int m_window;
    double m_capacityFactor;
    std::vector<Streak> m_streaks;
    std::optional<CollapseAlert> m_alert;
};

} // namespace moescope
