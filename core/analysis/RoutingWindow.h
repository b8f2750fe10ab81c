#pragma once
// The routing map's cells for a window of positions: every layer's choice over
// [begin, end), binned into at most `columns` columns so that what is computed is
// what a screen (or an export) can show, whatever the window's length.
//
// A column covers a contiguous run of positions; its expert is the most frequent best
// (first) expert of the valid tokens in the run (ties: the lower id), and its
// highlight the share of those tokens that chose the highlighted expert in any slot.
// Pure computation over LayerChoices, no I/O; throws Cancelled via `progress`.
#include "io/Progress.h"
#include "stats/LayerChoices.h"

#include <cstdint>
#include <vector>

namespace moescope {

struct RoutingWindowRequest {
    std::int64_t begin = 0, end = 0;  // positions [begin, end)
    int columns = 0;                  // at most this many columns (> 0)
    int highlightExpert = -1;         // -1: no highlight
};

struct RoutingWindow {
    std::int64_t begin = 0, end = 0;
    int columns = 0;                  // min(request.columns, end - begin)
    int layers = 0;
    std::vector<std::int32_t> expert; // [layers * columns], -1: no valid token in the bin
    std::vector<std::uint8_t> highlight; // [layers * columns], 0..255 share choosing the highlight

    // The first position of column c (columns cover [first(c), first(c + 1))).
    std::int64_t first(int c) const { return begin + (end - begin) * c / (columns ? columns : 1); }
    std::int32_t expertAt(int layer, int column) const { return expert[std::size_t(layer) * columns + column]; }
    std::uint8_t highlightAt(int layer, int column) const { return highlight[std::size_t(layer) * columns + column]; }
};

RoutingWindow binRoutingWindow(const std::vector<const LayerChoices *> &layers, const RoutingWindowRequest &request,
                               const Progress &progress = {});

} // namespace moescope
