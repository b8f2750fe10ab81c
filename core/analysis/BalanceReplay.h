#pragma once
// Auxiliary-loss-free bias balancing (DeepSeek-V3) replayed on one layer of a dump:
// the layer's logits streamed through a BalanceSimulator (routing/BalanceSimulation.h).
// The simulated bias replaces the layer's own. Throws DumpError, Cancelled, and
// std::invalid_argument for a rate <= 0 or batchTokens < 1.
#include "io/Progress.h"
#include "io/RoutingDump.h"
#include "routing/BalanceSimulation.h"

namespace moescope {

BalanceResult replayBalance(const RoutingDump &dump, std::size_t layer, RoutingBackend &backend, RoutingRules rules,
                            double rate, std::int64_t batchTokens, const Progress &progress = {});

// The mean of the per-batch MaxVio values of the last `fraction` of the batches
// (the steady state once the bias has settled), skipping NaN batches.
double meanOfLastBatches(const std::vector<double> &maxVio, double fraction);

} // namespace moescope
