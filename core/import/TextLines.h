#pragma once
// A text file read whole, walked line by line with 1-based line numbers, for the JSONL
// importers. A last line without its newline is still a line (a truncated one shows
// when it is parsed).
#include "io/DumpError.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
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

// A file mapped read-only into memory (no copy: the page cache is the buffer), for the
// large record files. Empty files map to an empty view.
class MappedText {
public:
    explicit MappedText(const std::string &path)
    {
        const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            throw DumpError(path, "", "cannot be opened for reading (" + std::string(std::strerror(errno)) + ")");
        struct stat st {};
        if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
            ::close(fd);
            throw DumpError(path, "", "is not a regular file");
        }
        m_size = std::size_t(st.st_size);
        if (m_size > 0) {
            void *p = ::mmap(nullptr, m_size, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
            if (p == MAP_FAILED) {
                ::close(fd);
                throw DumpError(path, "", "cannot be mapped into memory (" + std::string(std::strerror(errno)) + ")");
            }
            m_data = static_cast<const char *>(p);
        }
        ::close(fd);
    }
    ~MappedText()
    {
        if (m_data)
            ::munmap(const_cast<char *>(m_data), m_size);
    }
    MappedText(const MappedText &) = delete;
    MappedText &operator=(const MappedText &) = delete;
    std::string_view text() const { return {m_data ? m_data : "", m_size}; }

private:
    const char *m_data = nullptr;
    std::size_t m_size = 0;
};

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
