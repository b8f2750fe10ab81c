#pragma once
// What the user is looking at: one layer, one expert, one token position and one
// token id. Every view shows this and changes it only through SelectionModel.
#include <cstdint>

namespace moescope::ui {

struct Selection {
    int layer = -1;              // position in the ordered layer list; -1: none
    int expert = -1;             // -1: none
    std::int64_t position = -1;  // token position in the dump; -1: none
    std::int64_t tokenId = -1;   // token id whose positions are highlighted; -1: none

    friend bool operator==(const Selection &, const Selection &) = default;
};

} // namespace moescope::ui
