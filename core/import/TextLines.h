#pragma once
// A text file read whole, walked line by line with 1-based line numbers, for the JSONL
// importers. A last line without its newline is still a line (a truncated one shows
// when it is parsed).
#include "io/DumpError.h"

#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>

namespace moescope::import {

inline std::string readWholeFile(const std::string &path)
{
    std::FILE *f = std::fopen(path.c_str(), "rb");
    if (!f)
        throw DumpError(path, "", "cannot be opened for reading (" + std::string(std::strerror(errno)) + ")");
    std::string text;
    char buffer[1 << 16];
    std::size_t n;
    while ((n = std::fread(buffer, 1, sizeof buffer, f)) > 0)
        text.append(buffer, n);
    const bool failed = std::ferror(f) != 0;
    std::fclose(f);
    if (failed)
        throw DumpError(path, "", "could not be read to the end");
    return text;
}

// Calls visit(line, number) for every line that is not blank.
template <typename Visit>
void forEachLine(std::string_view text, Visit &&visit)
{
    std::size_t at = 0;
    long long number = 0;
    while (at < text.size()) {
        const void *nl = std::memchr(text.data() + at, '\n', text.size() - at);
        const std::size_t end = nl ? std::size_t(static_cast<const char *>(nl) - text.data()) : text.size();
        ++number;
        std::string_view line = text.substr(at, end - at);
        if (line.find_first_not_of(" \t\r") != std::string_view::npos)
            visit(line, number);
        at = end + 1;
    }
}

} // namespace moescope::import
