#include "FuzzEntries.h"

#include <cstdio>
#include <cstdlib>

namespace moescope::fuzz {

void refused(const std::exception &error)
{
    static const bool verbose = std::getenv("MOESCOPE_FUZZ_VERBOSE") != nullptr;
    if (verbose)
        std::fprintf(stderr, "refused: %s\n", error.what());
}

Entry entryNamed(std::string_view target)
{
    if (target == "dump")
        return dumpImage;
    if (target == "runlog")
        return runLogImage;
    if (target == "chunk")
        return compressedChunk;
    return nullptr;
}

} // namespace moescope::fuzz
