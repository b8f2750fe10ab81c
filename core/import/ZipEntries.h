#pragma once
// The files of a zip archive, read through its central directory (zip64 included),
// stored or deflated (libdeflate, which the dump reader already uses for gzip chunks),
// each checked against its CRC-32. Enough for numpy's .npz; encrypted or otherwise
// compressed entries are refused with a message naming the archive and the entry.
#include <string>
#include <vector>

namespace moescope::import {

struct ZipEntry {
    std::string name;
    std::string data; // the uncompressed bytes
};

// Throws DumpError naming `path` (and the entry) when the archive is damaged.
std::vector<ZipEntry> readZipEntries(const std::string &path);

} // namespace moescope::import
