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
    if (target == "import-jsonl")
        return importJsonl;
    if (target == "import-npy")
        return importNpy;
    if (target == "import-json")
        return importJson;
    if (target == "import-gguf")
        return importGguf;
    return nullptr;
}

} // namespace moescope::fuzz
