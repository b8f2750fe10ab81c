#pragma once
// The summary cache: a dump's health report (DumpReport) kept in the user's cache
// directory, so opening a large dump again shows its overview at once, and `stats`
// answers without reading the choices. Never inside the dump (dumps are opened
// read-only).
//
// The entry holds the dump's info (DumpInfo) beside the report, so a hit needs nothing
// from the dump itself: the window shows the overview and `stats` answers before, or
// without, opening it. A report is served only for the same dump content: the key holds the file's size,
// its modification time and a hash of its first 64 KiB and of 16 samples spread over
// it, plus everything that changes the report (capacity factor, drop policy and
// grouping, the vocabulary figures' minimum count) and the cache's format version. A
// changed file misses, never hits stale. The bytes of an entry are SummaryEntry.h's.
// The directory is bounded (oldest entries go first); entries are written to a
// temporary file and renamed, so a reader never sees half of one. Every failure
// (unreadable, corrupt, full disk) is a miss, never an error: the cache only saves time.
#include "analysis/AnalysisPipeline.h"
#include "analysis/DumpReport.h"
#include "analysis/SummaryEntry.h"

#include <cstdint>
#include <optional>
#include <string>

namespace moescope {

struct SummaryCache {
    std::string directory; // empty: the cache is off
    std::uint64_t maxBytes = std::uint64_t(64) << 20;

    // $MOESCOPE_CACHE_DIR, else $XDG_CACHE_HOME/moescope/summaries, else
    // ~/.cache/moescope/summaries; off when MOESCOPE_NO_CACHE is set.
    static SummaryCache standard();
    bool enabled() const { return !directory.empty(); }

    // The report of `dumpPath` analysed with `request` (only capacity factor and drops
    // count; requests that re-route or replay are never cached), or nullopt.
    std::optional<CachedSummary> load(const std::string &dumpPath, const AnalysisRequest &request) const;
    void store(const std::string &dumpPath, const AnalysisRequest &request, const DumpInfo &info,
               const DumpReport &report) const;
};

// Whether `request` yields a report the cache may hold: the recorded routing, every
// layer, no what-if.
bool cacheableRequest(const AnalysisRequest &request);

} // namespace moescope
