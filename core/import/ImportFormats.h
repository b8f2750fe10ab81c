#pragma once
// The formats `moescope import` and File > Import... read (docs/importers.md), in one
// table: a format is one source file that defines its ImportFormat and one line in
// ImportFormats.cpp. Each format detects its sources, reads one into an
// ImportedRecord (or, for a converter of its own, writes the dump itself), and names
// the source options it takes.
#include "import/ImportedRecord.h"
#include "io/Progress.h"

#include <functional>
#include <map>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

namespace moescope::import {

// A source option with a value the format cannot use (exit 2 in the command).
struct ImportUsageError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

struct ImportOptions {
    std::optional<int> numExperts;             // --num-experts E
    std::map<std::string, std::string> values; // source options by name without "--"; flags hold ""

    bool has(const std::string &name) const { return values.count(name) != 0; }
    // The option as an integer in [min, max]; nullopt when absent; ImportUsageError otherwise.
    std::optional<long long> integer(const std::string &name, long long min, long long max) const;
    // A set of non-negative integers written as "0-3,8"; nullopt when absent.
    std::optional<std::set<long long>> integerSet(const std::string &name) const;
};

struct ImportFormat {
    std::string name;        // the --format value: "megatron"
    std::string description; // one line: "Megatron-Core router trace directory"
    std::vector<std::string> options; // source options taking a value (without "--")
    std::vector<std::string> flags;   // source options without a value
    // Whether `source` (a file or folder) looks like this format; must be cheap.
    std::function<bool(const std::string &source)> detect;
    // Reads the source; DumpError naming the file, the line or record, and the problem.
    std::function<ImportedRecord(const std::string &source, const ImportOptions &, const Progress &)> read;
    // Instead of `read`: a format that writes the dump at `out` itself (an external
    // converter), through the same atomic rule. Returns its warnings.
    std::function<std::vector<std::string>(const std::string &source, const std::string &out, const ImportOptions &,
                                           const Progress &)>
        convert;
};

const std::vector<ImportFormat> &importFormats();
const ImportFormat *findImportFormat(const std::string &name);
// The first format whose detect() takes `source`; DumpError naming the source when none.
const ImportFormat &detectImportFormat(const std::string &source);
std::string importFormatNames(); // "megatron, megatron-tpe, ..." for messages

struct ImportResult {
    std::vector<std::string> warnings;
    std::string summary; // "12 layers, 40960 tokens, 64 experts, top-8" (empty for converters)
};

// The whole import: read (or convert) and write `out` atomically. Throws DumpError,
// ImportUsageError or Cancelled; no file appears at `out` then.
ImportResult importSource(const ImportFormat &format, const std::string &source, const std::string &out,
                          const ImportOptions &options, const Progress &progress = {});

// The formats' own definitions (one file each).
ImportFormat megatronTraceFormat();
ImportFormat megatronTpeFormat();
ImportFormat vllmFormat();
ImportFormat imatrixFormat();
ImportFormat sglangFormat();

} // namespace moescope::import
