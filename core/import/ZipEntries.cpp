#include "import/ZipEntries.h"

#include "import/BinaryFile.h"
#include "io/DumpError.h"

#include <libdeflate.h>

#include <cstdint>
#include <iterator>
#include <map>
#include <memory>

namespace moescope::import {

namespace {

constexpr std::uint32_t kEndOfDirectory = 0x06054b50;
constexpr std::uint32_t kZip64Locator = 0x07064b50;
constexpr std::uint32_t kZip64End = 0x06064b50;
constexpr std::uint32_t kDirectoryEntry = 0x02014b50;
constexpr std::uint32_t kLocalHeader = 0x04034b50;
// Deflate cannot expand data by more than about 1032:1; a larger claimed size is a
// damaged (or hostile) archive, refused before anything that large is allocated.
constexpr std::uint64_t kMaxDeflateRatio = 1032;

struct Location {
    std::uint64_t entries = 0, directorySize = 0, directoryOffset = 0;
};

Location endOfDirectory(const ByteReader &r)
{
    const std::string_view bytes = r.bytes();
    if (bytes.size() < 22)
        r.fail("", "is too short to be a zip archive (.npz)");
    // The end record sits in the last 22 bytes plus a comment of at most 65535.
    const std::size_t lowest = bytes.size() > 22 + 65535 ? bytes.size() - 22 - 65535 : 0;
    for (std::size_t at = bytes.size() - 22 + 1; at-- > lowest;) {
        if (r.u32At(at) != kEndOfDirectory)
            continue;
        Location loc{r.u16At(at + 10), r.u32At(at + 12), r.u32At(at + 16)};
        const bool zip64 =
            loc.entries == 0xFFFF || loc.directorySize == 0xFFFFFFFF || loc.directoryOffset == 0xFFFFFFFF;
        if (zip64) {
            if (at < 20 || r.u32At(at - 20) != kZip64Locator)
                r.fail("", "zip64 end record is missing");
            const std::uint64_t end64 = r.u64At(at - 20 + 8);
            if (end64 + 56 > bytes.size() || r.u32At(end64) != kZip64End)
                r.fail("", "zip64 end record is damaged");
            loc = Location{r.u64At(end64 + 32), r.u64At(end64 + 40), r.u64At(end64 + 48)};
        }
        if (loc.directoryOffset > bytes.size() || loc.directorySize > bytes.size() - loc.directoryOffset)
            r.fail("", "the zip central directory lies past the end of the file");
        return loc;
    }
    r.fail("", "is not a zip archive (.npz): no end-of-central-directory record");
}

std::string inflateEntry(const ByteReader &r, const std::string &name, std::string_view packed,
                         std::uint64_t size, std::uint32_t crc, int method)
{
    std::string out;
    if (method == 0) {
        if (packed.size() != size)
            r.fail(name, "stored entry sizes disagree");
        out.assign(packed);
    } else if (method == 8) {
        if (size > (packed.size() + 1) * kMaxDeflateRatio)
            r.fail(name, "claims an uncompressed size the compressed data cannot hold");
        out.resize(size);
        const std::unique_ptr<libdeflate_decompressor, void (*)(libdeflate_decompressor *)> inflater(
            libdeflate_alloc_decompressor(), libdeflate_free_decompressor);
        std::size_t got = 0;
        if (!inflater ||
            libdeflate_deflate_decompress(inflater.get(), packed.data(), packed.size(), out.data(),
                                          out.size(), &got) != LIBDEFLATE_SUCCESS ||
            got != size)
            r.fail(name, "deflate data is damaged");
    } else {
        r.fail(name, "uses zip compression method " + std::to_string(method) +
                         " (only stored and deflate are read)");
    }
    if (libdeflate_crc32(0, out.data(), out.size()) != crc)
        r.fail(name, "CRC-32 does not match its data");
    return out;
}

} // namespace

std::vector<ZipEntry> readZipEntries(const std::string &path)
{
    const std::string file = readBinaryFile(path);
    const ByteReader r(file, path);
    const Location loc = endOfDirectory(r);
    std::vector<ZipEntry> entries;
    // Where each entry's data lies: entries that share bytes (a "zip bomb" whose
    // directory points a thousand times at one deflated block) are refused, so that
    // what is inflated stays within deflate's ratio of the file's size.
    std::map<std::uint64_t, std::uint64_t> used; // start -> end
    std::uint64_t at = loc.directoryOffset;
    for (std::uint64_t i = 0; i < loc.entries; ++i) {
        if (r.u32At(at) != kDirectoryEntry)
            r.fail("", "zip central directory entry " + std::to_string(i) + " is damaged");
        const std::uint16_t flags = r.u16At(at + 8);
        const std::uint16_t method = r.u16At(at + 10);
        const std::uint32_t crc = r.u32At(at + 16);
        std::uint64_t packedSize = r.u32At(at + 20);
        std::uint64_t size = r.u32At(at + 24);
        const std::uint16_t nameLength = r.u16At(at + 28), extraLength = r.u16At(at + 30),
                            commentLength = r.u16At(at + 32);
        std::uint64_t local = r.u32At(at + 42);
        ZipEntry e;
        e.name = std::string(r.slice(at + 46, nameLength, "a zip entry name"));
        // zip64: the fields that overflowed 32 bits follow in the extra field 0x0001, in this order.
        std::uint64_t x = at + 46 + nameLength;
        const std::uint64_t extraEnd = x + extraLength;
        while (x + 4 <= extraEnd) {
            const std::uint16_t id = r.u16At(x), length = r.u16At(x + 2);
            std::uint64_t v = x + 4;
            if (id == 0x0001) {
                if (size == 0xFFFFFFFF && v + 8 <= x + 4 + length)
                    size = r.u64At(v), v += 8;
                if (packedSize == 0xFFFFFFFF && v + 8 <= x + 4 + length)
                    packedSize = r.u64At(v), v += 8;
                if (local == 0xFFFFFFFF && v + 8 <= x + 4 + length)
                    local = r.u64At(v);
            }
            x += 4 + std::uint64_t(length);
        }
        at = extraEnd + commentLength;
        if (flags & 1)
            r.fail(e.name, "is encrypted");
        if (r.u32At(local) != kLocalHeader)
            r.fail(e.name, "local header is damaged");
        const std::uint64_t data = local + 30 + r.u16At(local + 26) + r.u16At(local + 28);
        const std::string_view packed = r.slice(data, packedSize, "the entry's data");
        const std::uint64_t end = data + packedSize;
        const auto next = used.lower_bound(local);
        if ((next != used.end() && next->first < end) || (next != used.begin() && std::prev(next)->second > local))
            r.fail(e.name, "shares its bytes with another entry of the archive");
        used[local] = end;
        e.data = inflateEntry(r, e.name, packed, size, crc, method);
        entries.push_back(std::move(e));
    }
    return entries;
}

} // namespace moescope::import
