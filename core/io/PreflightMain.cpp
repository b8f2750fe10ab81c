// moescope-preflight FILE: opens a routing dump and reads its strings, then exits 0
// (opened) or 1 (refused). If HDF5 crashes or loops on a damaged file, it does so
// here, in a process of its own, and the program that started it reports the damage
// (io/DumpPreflight.h).
#include "io/DumpPreflight.h"

int main(int argc, char **argv)
{
    if (argc != 2)
        return 2;
    return moescope::io::runPreflightChild(argv[1]);
}
