#pragma once
// A first look at a user's dump in a separate process. A damaged file can make HDF5
// itself crash or loop forever (a corrupt global heap under a variable-length string
// is enough, in the HDF5 1.10 of Debian 12), and no error handling in this process
// can catch that. So openDump (io/OpenDump.h) first has a helper program,
// moescope-preflight, open the dump and read its strings, with a time limit: a helper
// that dies or hangs becomes a DumpError naming the file, and this process never
// touches the damage.
//
// The helper is started with posix_spawn (a fresh program, not a fork of this one):
// a forked copy of a multithreaded process inherits every lock some other thread
// held at that moment, and hangs on the first one it needs.
#include "io/Progress.h"

#include <string>

namespace moescope::io {

// Runs the helper on `path` and returns when it finishes, whether or not it refused
// the file (the caller's own open then reports why). Throws DumpError when the helper
// crashes, runs past the time limit (30 s, or MOESCOPE_PREFLIGHT_SECONDS, for very
// slow file systems and for the tests) or cannot be found or started; Cancelled when
// `progress` is cancelled meanwhile (the helper is killed).
void preflightDump(const std::string &path, const Progress &progress = {});

// The same for a run log (io/RunLog.h), which `moescope watch` and the follow window
// open while a training job writes it: the helper opens it as a run log and reads
// every series of its first and last records.
void preflightRunLog(const std::string &path, const Progress &progress = {});

// Where the helper program is: $MOESCOPE_PREFLIGHT_PROGRAM when set, else beside this
// program, else in ../libexec/moescope/ from it (an installed tree), else where the
// build tree made it. "" when none of these exists.
std::string preflightProgram();

// The helper's own work (its main() calls this): kPreflightOpened when the dump
// opened and its strings read, kPreflightRefused when it was refused. Any other end
// (a signal, another status) means the file crashed it.
inline constexpr int kPreflightOpened = 0;
inline constexpr int kPreflightRefused = 3;
int runPreflightChild(const std::string &path);
// The run-log check: `moescope-preflight --run-log FILE`.
inline constexpr const char *kPreflightRunLogFlag = "--run-log";
int runRunLogPreflightChild(const std::string &path);

} // namespace moescope::io
