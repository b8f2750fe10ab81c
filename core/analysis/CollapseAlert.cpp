#include "analysis/CollapseAlert.h"

#include <algorithm>
#include <cmath>

namespace moescope {

LayerStepHealth layerStepHealth(const std::int64_t *counts, std::size_t numExperts, double capacityFactor)
{
    LayerStepHealth h;
    if (numExperts == 0)
        return h;
    double sum = 0;
    for (std::size_t e = 0; e < numExperts; ++e)
        sum += double(counts[e]);
    const double m = sum / double(numExperts);
    if (m <= 0)
        return h; // a step without tokens says nothing about balance
    double squares = 0, top = 0;
    for (std::size_t e = 0; e < numExperts; ++e) {
        const double c = double(counts[e]);
        squares += (c - m) * (c - m);
        top = std::max(top, c);
        h.hot += c > capacityFactor * m;
        h.cold += c < 0.1 * m;
    }
    h.cv = std::sqrt(squares / double(numExperts)) / m;
    h.maxVio = (top - m) / m;
    const int coldNeeded = std::max(1, int(std::ceil(0.1 * double(numExperts) - 1e-9)));
    h.coldCollapse = h.cold >= coldNeeded;
    h.maxVioCollapse = h.maxVio > 2;
    return h;
}

CollapseWatch::CollapseWatch(std::size_t numLayers, std::size_t numExperts, int window, double capacityFactor)
    : m_layers(numLayers), m_experts(numExperts), m_window(std::max(1, window)), m_capacityFactor(capacityFactor),
      m_streaks(numLayers)
{
}

StepSummary CollapseWatch::add(std::int64_t step, const std::int64_t *counts, const double *recordedMaxVio)
{
    StepSummary summary;
    summary.step = step;
    bool first = true;
    for (std::size_t l = 0; l < m_layers; ++l) {
        LayerStepHealth h;
        if (counts) {
            h = layerStepHealth(counts + l * m_experts, m_experts, m_capacityFactor);
        } else if (recordedMaxVio) {
            h.cv = std::nan("");
            h.maxVio = recordedMaxVio[l];
            h.maxVioCollapse = h.maxVio > 2;
        }
        const bool worse = h.collapsing() != summary.worst.collapsing() ? h.collapsing()
                                                                       : h.maxVio > summary.worst.maxVio;
        if (first || worse) {
            summary.worst = h;
            summary.worstLayer = l;
            first = false;
        }
        Streak &s = m_streaks[l];
        if (!h.collapsing()) {
            s = Streak{};
            continue;
        }
        if (s.length == 0)
            s.since = step;
        ++s.length;
        s.coldAll = s.coldAll && h.coldCollapse;
        s.maxVioAll = s.maxVioAll && h.maxVioCollapse;
    }
    if (!m_alert) {
        // Of the layers whose streak reached W, the longest (then the lower position).
        for (std::size_t l = 0; l < m_layers; ++l) {
            const Streak &s = m_streaks[l];
            if (s.length < m_window || (m_alert && m_streaks[m_alert->layer].length >= s.length))
                continue;
            const bool coldNow = counts && layerStepHealth(counts + l * m_experts, m_experts, m_capacityFactor).coldCollapse;
            const char *condition = s.coldAll ? "cold" : s.maxVioAll ? "max_vio" : coldNow ? "cold" : "max_vio";
            m_alert = CollapseAlert{l, s.since, step, condition};
        }
    }
    return summary;
}

} // namespace moescope
