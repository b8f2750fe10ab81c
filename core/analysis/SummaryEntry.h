#pragma once
// The bytes of one summary-cache entry (SummaryCache.h): its key, the dump's info and
// its report, in this machine's byte order (the cache is never shared between
// machines). Every field of DumpInfo, DumpReport and LayerReport is stored: a field
// added there must be added to SummaryEntry.cpp, and SummaryCache.cpp's format
// version raised, so older entries miss.
#include "analysis/DumpReport.h"
#include "io/DumpInfo.h"

#include <optional>
#include <string>

namespace moescope {

struct CachedSummary {
    DumpInfo info;     // its path is the one asked for
    DumpReport report; // its file likewise; its warnings are empty (info.warnings has the dump's)
};

std::string encodeSummary(const std::string &key, const DumpInfo &info, const DumpReport &report);
// nullopt when the bytes are not one whole entry stored under `key` (another key, cut
// short, corrupt).
std::optional<CachedSummary> decodeSummary(const std::string &bytes, const std::string &key);

} // namespace moescope
