#pragma once
// Expert-choice routing (routing/ExpertChoice.h) replayed on one layer of a dump: the
// capacity groups and their valid tokens come from a routing pass of the same rules,
// then the layer's logits are streamed through an ExpertChoiceRouter. Throws DumpError
// and Cancelled.
#include "io/Progress.h"
#include "io/RoutingDump.h"
#include "routing/ExpertChoice.h"
#include "stats/CapacityDrops.h"
#include "stats/LayerChoices.h"

namespace moescope {

ExpertChoiceResult replayExpertChoice(const RoutingDump &dump, std::size_t layer, const LayerChoices &routed,
                                      const RoutingRules &rules, double capacityFactor, CapacityGroup grouping,
                                      const Progress &progress = {});

} // namespace moescope
