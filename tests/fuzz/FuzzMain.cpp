// One libFuzzer target: MOESCOPE_FUZZ_TARGET names its entry (FuzzEntries.h).
#include "FuzzEntries.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size)
{
    static const moescope::fuzz::Entry entry = moescope::fuzz::entryNamed(MOESCOPE_FUZZ_TARGET);
    return entry(data, size);
}
