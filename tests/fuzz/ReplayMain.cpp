// moescope-fuzz-replay TARGET PATH...: runs every file under each PATH (a file or a
// folder, not recursive) through the fuzz target's entry, built without libFuzzer.
// ctest replays the kept findings (regressions/TARGET) and the seed corpora
// (corpus/TARGET) this way, so a fixed crash stays fixed in the ordinary build and
// in the sanitizer build. Exits 0 when every input returned, 2 on bad arguments.
#include "FuzzEntries.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <vector>

namespace fs = std::filesystem;

int main(int argc, char **argv)
{
    if (argc < 3) {
        std::fprintf(stderr, "usage: moescope-fuzz-replay TARGET PATH...\n");
        return 2;
    }
    const moescope::fuzz::Entry entry = moescope::fuzz::entryNamed(argv[1]);
    if (!entry) {
        std::fprintf(stderr, "moescope-fuzz-replay: unknown target '%s'\n", argv[1]);
        return 2;
    }
    std::vector<fs::path> files;
    for (int i = 2; i < argc; ++i) {
        const fs::path p(argv[i]);
        if (fs::is_directory(p)) {
            for (const auto &e : fs::directory_iterator(p))
                if (e.is_regular_file() && e.path().filename() != "README.md")
                    files.push_back(e.path());
        } else if (fs::is_regular_file(p)) {
            files.push_back(p);
        } else {
            std::fprintf(stderr, "moescope-fuzz-replay: %s is neither a file nor a folder\n", argv[i]);
            return 2;
        }
    }
    std::sort(files.begin(), files.end());
    for (const fs::path &f : files) {
        std::ifstream in(f, std::ios::binary);
        const std::vector<char> bytes{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
        std::fprintf(stderr, "%s (%zu bytes)\n", f.c_str(), bytes.size());
        entry(reinterpret_cast<const std::uint8_t *>(bytes.data()), bytes.size());
    }
    std::printf("replayed %zu inputs through '%s'\n", files.size(), argv[1]);
    return 0;
}
