#pragma once
// The one door through which the programs open a user's dump: the window, every
// command, the report and the benchmark. It first has a separate process look at the
// file (io/DumpPreflight.h: a damaged file that crashes or hangs HDF5 does so there),
// then opens it read-only here, which checks the whole schema (dump-format) and
// decides how each layer's logits are read (read plainly with pread, inflated on every core,
// or through HDF5).
//
// Tests that write their own well-formed fixtures may construct RoutingDump directly.
#include "io/Progress.h"
#include "io/RoutingDump.h"

#include <memory>
#include <string>

namespace moescope {

// Throws DumpError naming the file (and the object) when the dump is refused,
// Cancelled when `progress` is cancelled. The dump may be shared by any threads.
std::shared_ptr<const RoutingDump> openDump(const std::string &path, const Progress &progress = {});

} // namespace moescope
