// `import`: another tool's routing record as a routing dump (docs/importers.md). The
// format is detected unless --format names it; each format's source options are
// accepted only with it. Warnings (E taken from the ids seen, ...) and a summary of
// what was written go to stderr; stdout stays empty.
#include "cli/Arguments.h"
#include "cli/Commands.h"
#include "cli/TerminalProgress.h"
#include "import/ImportFormats.h"

#include <algorithm>
#include <iostream>

namespace moescope::cli {

int importCommand(const Words &words)
{
    using namespace moescope::import;
    std::set<std::string> flags, options = {"output", "format", "num-experts"};
    for (const ImportFormat &f : importFormats()) {
        options.insert(f.options.begin(), f.options.end());
        flags.insert(f.flags.begin(), f.flags.end());
    }
    const Arguments args(words, flags, options, {{"o", "output"}});
    const std::string source = args.file();
    const auto out = args.option("output");
    if (!out || out->empty())
        throw ArgumentError("-o OUT.h5 is required: where the dump is written");

    const ImportFormat *format = nullptr;
    if (const auto name = args.option("format")) {
        format = findImportFormat(*name);
        if (!format)
            throw ArgumentError("--format must be one of " + importFormatNames() + ", got '" + *name + "'");
    }
    ImportOptions o;
    if (const auto e = args.integer("num-experts")) {
        if (*e < 1 || *e > 4096)
            throw ArgumentError("--num-experts must be 1 to 4096, got " + std::to_string(*e));
        o.numExperts = int(*e);
    }
    for (const std::string &name : options)
        if (name != "output" && name != "format" && name != "num-experts")
            if (const auto v = args.option(name))
                o.values[name] = *v;
    for (const std::string &name : flags)
        if (args.flag(name))
            o.values[name] = "";
    if (!format)
        format = &detectImportFormat(source); // DumpError (exit 1) when nothing fits
    for (const auto &[name, value] : o.values) {
        const bool known = std::count(format->options.begin(), format->options.end(), name) ||
                           std::count(format->flags.begin(), format->flags.end(), name);
        if (!known)
            throw ArgumentError("--" + name + " does not apply to --format " + format->name);
    }

    TerminalProgress progress("import");
    ImportResult result;
    try {
        result = importSource(*format, source, *out, o, progress.progress());
    } catch (const ImportUsageError &e) {
        throw ArgumentError(e.what());
    }
    for (const std::string &w : result.warnings)
        std::cerr << "moescope import: warning: " << w << "\n";
    std::cerr << "moescope import: wrote " << *out << " from " << format->description
              << (result.summary.empty() ? "" : ": " + result.summary) << "\n";
    return 0;
}

} // namespace moescope::cli
