// moescope-preflight FILE: opens a routing dump and reads its strings, then exits 0
// (opened) or 3 (refused); `moescope-preflight --run-log FILE` does the same for a
// run log. If HDF5 crashes or loops on a damaged file, it does so
// here, in a process of its own, and the program that started it reports the damage
// (io/DumpPreflight.h).
#include "io/DumpPreflight.h"

#include <cstring>

int main(int argc, char **argv)
{
    using namespace moescope::io;
    if (argc == 3 && std::strcmp(argv[1], kPreflightRunLogFlag) == 0)
        return runRunLogPreflightChild(argv[2]);
    if (argc != 2)
        return 2;
    return runPreflightChild(argv[1]);
}
