#include "routing/SharedBackend.h"

namespace moescope {

SharedBackend::SharedBackend(std::unique_ptr<RoutingBackend> backend) : m_backend(std::move(backend)) {}

std::string SharedBackend::name() const
{
    const std::lock_guard lock(m_mutex);
    return m_backend->name();
}

void SharedBackend::route(const LogitsView &logits, const RoutingRules &rules, const ChunkOutput &out,
                          LossTotals &totals)
{
    const std::lock_guard lock(m_mutex);
    m_backend->route(logits, rules, out, totals);
}

CapacitySweepResult SharedBackend::sweepCapacity(const CapacityRanks &ranks, const std::vector<double> &factors)
{
    const std::lock_guard lock(m_mutex);
    return m_backend->sweepCapacity(ranks, factors);
}

std::vector<std::int64_t> SharedBackend::coActivation(const LayerChoices &choices)
{
    const std::lock_guard lock(m_mutex);
    return m_backend->coActivation(choices);
}

std::vector<std::int64_t> SharedBackend::layerTransitions(const LayerChoices &from, const LayerChoices &to)
{
    const std::lock_guard lock(m_mutex);
    return m_backend->layerTransitions(from, to);
}

std::vector<std::string> SharedBackend::takeWarnings()
{
    const std::lock_guard lock(m_mutex);
    return m_backend->takeWarnings();
}

} // namespace moescope
