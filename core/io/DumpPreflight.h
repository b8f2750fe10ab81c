#pragma once
// A first look at a user's dump in a child process. A damaged file can make HDF5
// itself crash or loop forever (a corrupt global heap under a variable-length string
// is enough, in the HDF5 1.10 of Debian 12), and no error handling in this process
// can catch that. So the programs open a dump once in a forked child, with a time
// limit, before they open it for real: a child that dies or hangs becomes a DumpError
// naming the file, and this process never touches the damage.
#include <chrono>
#include <string>

namespace moescope::io {

// Opens `path` as RoutingDump does, and reads its strings, in a child process.
// Returns when the child finishes (whether or not it refused the file: the caller's
// own open then reports that). Throws DumpError when the child crashes or runs past
// the time limit: 30 s, or MOESCOPE_PREFLIGHT_SECONDS (for very slow file systems,
// and for the tests). Where fork() is not available it does nothing.
void preflightDump(const std::string &path);

} // namespace moescope::io
