#pragma once
// One backend that several threads use at once, as the desktop application's jobs do
// (a dump loading, a what-if, a pair count): each call takes a lock and forwards to
// the backend it wraps, so the jobs share its threads (or its GPU queue) call by
// call instead of each starting an engine of its own. A call is one chunk of rows,
// so a long job never holds the engine for long.
#include "routing/RoutingBackend.h"

#include <memory>
#include <mutex>

namespace moescope {

class SharedBackend : public RoutingBackend {
public:
    explicit SharedBackend(std::unique_ptr<RoutingBackend> backend);

    std::string name() const override;
    void route(const LogitsView &logits, const RoutingRules &rules, const ChunkOutput &out,
               LossTotals &totals) override;
    CapacitySweepResult sweepCapacity(const CapacityRanks &ranks, const std::vector<double> &factors) override;
    std::vector<std::int64_t> coActivation(const LayerChoices &choices) override;
    std::vector<std::int64_t> layerTransitions(const LayerChoices &from, const LayerChoices &to) override;
    std::vector<std::string> takeWarnings() override;

private:
    mutable std::mutex m_mutex;
    std::unique_ptr<RoutingBackend> m_backend;
};

} // namespace moescope
