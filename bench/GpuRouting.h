#pragma once
// The routing benchmark's part (f): the OpenCL backend routes the in-memory logits
// that the CPU backend routed, layer by layer; it must choose exactly the same
// experts. Prints its time, or why it was not measured (no OpenCL device).
#include "routing/RoutingRules.h"
#include "stats/LayerChoices.h"

#include <cstdint>
#include <vector>

void timeOpenClRouting(const std::vector<std::uint16_t> &halves, std::int64_t tokens, int layers, int experts,
                       const moescope::RoutingRules &rules, const std::vector<moescope::LayerChoices> &cpuChoices,
                       int runs);
