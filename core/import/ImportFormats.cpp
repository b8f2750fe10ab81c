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

ImportResult importSource(const ImportFormat &format, const std::string &source, const std::string &out,
                          const ImportOptions &options, const Progress &progress)
{
    ImportResult result;
    if (format.convert) {
        result.warnings = format.convert(source, out, options, progress);
        return result;
    }
    const ImportedRecord record = format.read(source, options, progress.part(0, 0.7));
    writeImportedDump(record, out, progress.part(0.7, 1));
    result.warnings = record.warnings;
    result.summary = std::to_string(record.layers.size()) + " layers, " + std::to_string(record.numTokens) +
                     " tokens, " + std::to_string(record.numExperts) + " experts, top-" + std::to_string(record.topK);
    return result;
}

} // namespace moescope::import
