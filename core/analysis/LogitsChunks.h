#pragma once
// Walks one layer's logits in bounded chunks, in position order, each in its own
// stored precision (float16 as raw halves, float32, float64): the feed of the
// streaming simulations (expert choice, bias balancing). Throws DumpError, and
// Cancelled between chunks when `progress` says so.
#include "analysis/Progress.h"
#include "io/RoutingDump.h"
#include "routing/RoutingBackend.h"

#include <functional>

namespace moescope {

void forEachLogitsChunk(const RoutingDump &dump, std::size_t layer,
                        const std::function<void(const LogitsView &chunk, std::int64_t begin)> &use,
                        const Progress &progress = {});

} // namespace moescope
