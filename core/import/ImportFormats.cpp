#include "import/ImportFormats.h"

#include "io/DumpError.h"
#include "io/DumpWriter.h"

#include <filesystem>

namespace moescope::import {

const std::vector<ImportFormat> &importFormats()
{
    // Detection tries the formats in this order.
    static const std::vector<ImportFormat> formats = {
        megatronTraceFormat(),
        megatronTpeFormat(),
        vllmFormat(),
        imatrixFormat(),
        sglangFormat(),
    };
    return formats;
}

const ImportFormat *findImportFormat(const std::string &name)
{
    for (const ImportFormat &f : importFormats())
        if (f.name == name)
            return &f;
    return nullptr;
}

std::string importFormatNames()
{
    std::string names;
    for (const ImportFormat &f : importFormats())
        names += (names.empty() ? "" : ", ") + f.name;
    return names;
}

const ImportFormat &detectImportFormat(const std::string &source)
{
    std::error_code error;
    if (!std::filesystem::exists(source, error))
        throw DumpError(source, "", "does not exist");
    for (const ImportFormat &f : importFormats())
        if (f.detect && f.detect(source))
            return f;
    throw DumpError(source, "", "is not a record MoE Scope recognises (formats: " + importFormatNames() +
                                    "); name one with --format");
}

std::optional<long long> ImportOptions::integer(const std::string &name, long long min, long long max) const
{
    const auto it = values.find(name);
    if (it == values.end())
        return std::nullopt;
    std::size_t used = 0;
    long long v = 0;
    try {
        v = std::stoll(it->second, &used);
    } catch (const std::exception &) {
        used = 0;
    }
    if (used == 0 || used != it->second.size())
        throw ImportUsageError("--" + name + " must be an integer, got '" + it->second + "'");
    if (v < min || v > max)
        throw ImportUsageError("--" + name + " must be " + std::to_string(min) + " to " + std::to_string(max) +
                               ", got " + std::to_string(v));
    return v;
}

std::optional<std::set<long long>> ImportOptions::integerSet(const std::string &name) const
{
    const auto it = values.find(name);
    if (it == values.end())
        return std::nullopt;
    std::set<long long> set;
    const std::string &text = it->second;
    auto bad = [&] { return ImportUsageError("--" + name + " must list integers and ranges such as 0-3,8, got '" + text + "'"); };
    std::size_t at = 0;
    while (at <= text.size()) {
        const std::size_t comma = std::min(text.find(',', at), text.size());
        const std::string part = text.substr(at, comma - at);
        const std::size_t dash = part.find('-');
        try {
            std::size_t used = 0, used2 = 0;
            const long long first = std::stoll(part.substr(0, dash), &used);
            const long long last = dash == std::string::npos ? first : std::stoll(part.substr(dash + 1), &used2);
            if (used != part.substr(0, dash).size() || (dash != std::string::npos && used2 != part.size() - dash - 1) ||
                first < 0 || last < first || last - first > 1000000)
                throw bad();
            for (long long v = first; v <= last; ++v)
                set.insert(v);
        } catch (const ImportUsageError &) {
            throw;
        } catch (const std::exception &) {
            throw bad();
        }
        at = comma + 1;
    }
    return set;
}

ImportResult importSource(const ImportFormat &format, const std::string &source, const std::string &out,
                          const ImportOptions &options, const Progress &progress)
{
    ImportResult result;
    if (format.convert) {
        result.warnings = format.convert(source, out, options, progress);
        return result;
    }
    const ImportedRecord record = format.read(source, options, progress.part(0, 0.4));
    const StreamedFacts facts = writeImportedDump(record, out, progress.part(0.4, 1));
    result.warnings = facts.warnings;
    result.summary = std::to_string(record.layers.size()) + " layers, " + std::to_string(record.numTokens) +
                     " tokens, " + std::to_string(facts.numExperts) + " experts, top-" + std::to_string(record.topK);
    return result;
}

} // namespace moescope::import
