#pragma once
// numpy's files written byte by byte for the importer tests and the fuzz seeds: .npy
// (format 1.0: magic, version, header length, a dict header padded with spaces to 64
// bytes, then the data, either byte order, C or Fortran order) and .npz (a zip of .npy
// entries, laid out as the zip specification says; stored, or deflated by a callback).
#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace moescope::test {

// `values` in C order; `descr` is numpy's "<i2", ">i4", "<i8" ...; Fortran order takes
// a 3-d shape.
inline std::string npy(const std::vector<std::int64_t> &values, std::vector<int> shape, const std::string &descr,
                       bool fortran = false)
{
    const int width = descr[2] - '0';
    const bool big = descr[0] == '>';
    std::string dims;
    for (int d : shape)
        dims += std::to_string(d) + ", ";
    dims.resize(dims.size() - (shape.size() > 1 ? 2 : 1)); // numpy writes (4,) and (5, 2, 2)
    std::string header = "{'descr': '" + descr + "', 'fortran_order': " + (fortran ? "True" : "False") +
                         ", 'shape': (" + dims + "), }";
    while ((10 + header.size() + 1) % 64 != 0) // numpy pads the header with spaces to 64 bytes, then '\n'
        header += ' ';
    header += '\n';
    std::string out = std::string("\x93NUMPY\x01\x00", 8);
    out += char(header.size() & 0xFF);
    out += char(header.size() >> 8);
    out += header;
    std::vector<std::int64_t> ordered = values;
    if (fortran) { // element (t, l, s) at t + T*(l + L*s)
        const int T = shape[0], L = shape[1], K = shape[2];
        for (int t = 0; t < T; ++t)
            for (int l = 0; l < L; ++l)
                for (int s = 0; s < K; ++s)
                    ordered[std::size_t(t + T * (l + L * s))] = values[std::size_t((t * L + l) * K + s)];
    }
    for (std::int64_t v : ordered)
        for (int b = 0; b < width; ++b)
            out += char((std::uint64_t(v) >> (8 * (big ? width - 1 - b : b))) & 0xFF);
    return out;
}

inline std::uint32_t crc32(const std::string &data)
{
    std::uint32_t c = 0xFFFFFFFFu;
    for (unsigned char byte : data) {
        c ^= byte;
        for (int i = 0; i < 8; ++i)
            c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1u)));
    }
    return ~c;
}

// A zip of the entries (name, bytes). Stored, unless `deflate` is given: it turns an
// entry's bytes into a raw deflate stream (method 8, as np.savez_compressed writes).
inline std::string zip(const std::vector<std::pair<std::string, std::string>> &entries, bool badCrc = false,
                       const std::function<std::string(const std::string &)> &deflate = {})
{
    std::string out, directory;
    const auto put = [](std::string &s, std::uint64_t v, int width) {
        for (int i = 0; i < width; ++i)
            s += char((v >> (8 * i)) & 0xFF);
    };
    const int method = deflate ? 8 : 0;
    for (const auto &[name, data] : entries) {
        const std::uint32_t crc = crc32(data) ^ (badCrc ? 1u : 0u);
        const std::string packed = deflate ? deflate(data) : data;
        const std::size_t local = out.size();
        put(out, 0x04034b50, 4), put(out, 20, 2), put(out, 0, 2), put(out, method, 2), put(out, 0, 4);
        put(out, crc, 4), put(out, packed.size(), 4), put(out, data.size(), 4), put(out, name.size(), 2),
            put(out, 0, 2);
        out += name + packed;
        put(directory, 0x02014b50, 4), put(directory, 20, 2), put(directory, 20, 2), put(directory, 0, 2);
        put(directory, method, 2), put(directory, 0, 4), put(directory, crc, 4), put(directory, packed.size(), 4);
        put(directory, data.size(), 4), put(directory, name.size(), 2), put(directory, 0, 2),
            put(directory, 0, 2);
        put(directory, 0, 2), put(directory, 0, 2), put(directory, 0, 4), put(directory, local, 4);
        directory += name;
    }
    const std::size_t at = out.size();
    out += directory;
    put(out, 0x06054b50, 4), put(out, 0, 2), put(out, 0, 2), put(out, entries.size(), 2),
        put(out, entries.size(), 2);
    put(out, directory.size(), 4), put(out, at, 4), put(out, 0, 2);
    return out;
}

} // namespace moescope::test
