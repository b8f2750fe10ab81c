#pragma once
// Little-endian reads from a file held in memory, every one bounds-checked: the
// binary importers (.npz, GGUF) read untrusted files, and a length or offset that
// points past the end must become a message naming the file and the object, never a
// read out of bounds.
#include "io/DumpError.h"

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>

namespace moescope::import {

inline std::string readBinaryFile(const std::string &path)
{
    std::FILE *f = std::fopen(path.c_str(), "rb");
    if (!f)
        throw DumpError(path, "", "cannot be opened for reading (" + std::string(std::strerror(errno)) + ")");
    // One read into a string of the file's size: growing a string chunk by chunk
    // copies the whole file again at every doubling.
    std::string bytes;
    if (std::fseek(f, 0, SEEK_END) == 0) {
        const long size = std::ftell(f);
        if (size > 0)
            bytes.resize(std::size_t(size));
        std::rewind(f);
    }
    std::size_t got = bytes.empty() ? 0 : std::fread(bytes.data(), 1, bytes.size(), f);
    bytes.resize(got);
    char buffer[1 << 16];
    std::size_t n;
    while ((n = std::fread(buffer, 1, sizeof buffer, f)) > 0) // a file that grew, or one that cannot seek
        bytes.append(buffer, n);
    const bool failed = std::ferror(f) != 0;
    std::fclose(f);
    if (failed)
        throw DumpError(path, "", "could not be read to the end");
    return bytes;
}

class ByteReader {
public:
    ByteReader(std::string_view bytes, std::string file) : m_bytes(bytes), m_file(std::move(file)) {}

    std::string_view bytes() const { return m_bytes; }
    const std::string &file() const { return m_file; }

    [[noreturn]] void fail(const std::string &object, const std::string &problem) const
    {
        throw DumpError(m_file, object, problem);
    }

    std::uint64_t le(std::uint64_t at, int width) const
    {
        if (at > m_bytes.size() || std::uint64_t(width) > m_bytes.size() - at)
            fail("", "ends early: " + std::to_string(width) + " bytes needed at offset " +
                         std::to_string(at) + " of " + std::to_string(m_bytes.size()));
        std::uint64_t v = 0;
        for (int i = width - 1; i >= 0; --i)
            v = (v << 8) | static_cast<unsigned char>(m_bytes[at + i]);
        return v;
    }
    std::uint16_t u16At(std::uint64_t at) const { return std::uint16_t(le(at, 2)); }
    std::uint32_t u32At(std::uint64_t at) const { return std::uint32_t(le(at, 4)); }
    std::uint64_t u64At(std::uint64_t at) const { return le(at, 8); }

    // `length` bytes at `at`; `what` names them in the error when they pass the end.
    std::string_view slice(std::uint64_t at, std::uint64_t length, const std::string &what) const
    {
        if (at > m_bytes.size() || length > m_bytes.size() - at)
            fail("", what + " (" + std::to_string(length) + " bytes at offset " + std::to_string(at) +
                         ") runs past the end of the file (" + std::to_string(m_bytes.size()) + " bytes)");
        return m_bytes.substr(at, length);
    }

private:
    std::string_view m_bytes;
    std::string m_file;
};

} // namespace moescope::import
