// The importer targets: the bytes become a file of the name the importer looks for, in
// a folder of this process's own under $TMPDIR (the importers read paths and map or
// read the whole file; a file is the honest way to give them bytes), then the format's
// whole read runs as `moescope import` runs it, up to the writing of the dump:
// parsing, every check, and a streamed layer's choices into a sink that
// drops them.
#include "FuzzEntries.h"

#include "import/ImportFormats.h"
#include "io/DumpError.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

namespace fs = std::filesystem;

namespace moescope::fuzz {

namespace {

using import::ImportedRecord;

class DroppingSink : public import::ChoiceSink {
public:
    void write(std::size_t, std::int64_t, std::int64_t, const std::int16_t *) override {}
};

// Never destroyed: the atexit handler that removes the folder runs after the static
// destructors of objects constructed before its registration, so it must not name one.
const fs::path &workFolder()
{
    static const fs::path *folder = [] {
        const char *tmp = std::getenv("TMPDIR");
        auto *f = new fs::path(fs::path(tmp && *tmp ? tmp : "/tmp") / ("moescope-fuzz-" + std::to_string(::getpid())));
        fs::create_directories(*f);
        std::atexit([] { std::error_code e; fs::remove_all(workFolder(), e); });
        return f;
    }();
    return *folder;
}

// Writes the bytes to workFolder()/name and returns its path.
std::string asFile(const char *name, const std::uint8_t *data, std::size_t size)
{
    const fs::path path = workFolder() / name;
    std::FILE *f = std::fopen(path.c_str(), "wb");
    if (!f)
        std::abort(); // the fuzzing machine's problem, not the input's
    if (size > 0 && std::fwrite(data, 1, size, f) != size)
        std::abort();
    std::fclose(f);
    return path.string();
}

// The format's read of `path`, then its streamed choices; a refusal is the answer a
// damaged file should get. No detection first: `--format` makes an importer read any
// file.
void importRead(const char *formatName, const std::string &path)
{
    const import::ImportFormat *format = import::findImportFormat(formatName);
    try {
        const ImportedRecord record = format->read(path, {}, {});
        if (record.streamChoices) {
            DroppingSink sink;
            record.streamChoices(sink);
        }
    } catch (const DumpError &e) {
        refused(e);
    } catch (const import::ImportUsageError &e) {
        refused(e);
    }
}

} // namespace

int importJsonl(const std::uint8_t *data, std::size_t size)
{
    // The same lines as a router trace and as a tokens-per-expert log.
    importRead("megatron", asFile("router_trace_rank0.jsonl", data, size));
    importRead("megatron-tpe", asFile("rank0.jsonl", data, size));
    return 0;
}

int importNpy(const std::uint8_t *data, std::size_t size)
{
    const bool zip = size >= 2 && data[0] == 'P' && data[1] == 'K';
    importRead("vllm", asFile(zip ? "input.npz" : "input.npy", data, size));
    return 0;
}

int importJson(const std::uint8_t *data, std::size_t size)
{
    importRead("vllm", asFile("input.json", data, size));
    return 0;
}

int importGguf(const std::uint8_t *data, std::size_t size)
{
    importRead("imatrix", asFile("input.gguf", data, size));
    return 0;
}

} // namespace moescope::fuzz
