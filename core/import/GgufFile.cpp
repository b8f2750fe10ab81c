#include "import/GgufFile.h"

#include "import/BinaryFile.h"
#include "io/DumpError.h"

#include <algorithm>
#include <cstring>
#include <limits>

namespace moescope::import {

namespace {

enum ValueType : std::uint32_t {
    U8 = 0,
    I8 = 1,
    U16 = 2,
    I16 = 3,
    U32 = 4,
    I32 = 5,
    F32 = 6,
    BOOL = 7,
    STRING = 8,
    ARRAY = 9,
    U64 = 10,
    I64 = 11,
    F64 = 12
};
constexpr std::uint32_t kGgmlF32 = 0;
constexpr int kMaxDims = 4; // GGML_MAX_DIMS

// Reads forward through the file; `where` names what is being read in every error.
class Cursor {
public:
    explicit Cursor(const ByteReader &r) : m_r(r) {}
    std::string where;
    std::uint64_t at = 0;

    [[noreturn]] void fail(const std::string &problem) const { m_r.fail(where, problem); }
    std::uint64_t take(int width)
    {
        need(std::uint64_t(width));
        const std::uint64_t v = m_r.le(at, width);
        at += std::uint64_t(width);
        return v;
    }
    void need(std::uint64_t n) const
    {
        const std::uint64_t size = m_r.bytes().size();
        if (at > size || n > size - at)
            fail("runs past the end of the file (" + std::to_string(n) + " bytes needed at offset " +
                 std::to_string(at) + ", the file has " + std::to_string(size) + ")");
    }
    std::string string()
    {
        const std::uint64_t n = take(8);
        need(n);
        std::string s(m_r.bytes().substr(at, n));
        at += n;
        return s;
    }
    double real(int width)
    {
        const std::uint64_t bits = take(width);
        if (width == 4) {
            float f;
            const auto b32 = std::uint32_t(bits);
            std::memcpy(&f, &b32, 4);
            return f;
        }
        double d;
        std::memcpy(&d, &bits, 8);
        return d;
    }

    // One value of `type`; arrays keep their strings (the rest of an array is skipped).
    void value(std::uint32_t type, GgufValue &v, int depth)
    {
        switch (type) {
        case U8:
        case BOOL:
            v.integer = std::int64_t(take(1));
            break;
        case I8:
            v.integer = std::int8_t(take(1));
            break;
        case U16:
            v.integer = std::int64_t(take(2));
            break;
        case I16:
            v.integer = std::int16_t(take(2));
            break;
        case U32:
            v.integer = std::int64_t(take(4));
            break;
        case I32:
            v.integer = std::int32_t(take(4));
            break;
        case U64:
            v.integer = std::int64_t(take(8));
            break;
        case I64:
            v.integer = std::int64_t(take(8));
            break;
        case F32:
            v.real = real(4);
            return;
        case F64:
            v.real = real(8);
            return;
        case STRING:
            v.text = string();
            return;
        case ARRAY: {
            if (depth > 8)
                fail("nests arrays too deeply");
            v.arrayType = std::uint32_t(take(4));
            v.arrayLength = take(8);
            // Every element takes at least one byte: a longer array cannot fit in the file.
            need(v.arrayLength);
            for (std::uint64_t i = 0; i < v.arrayLength; ++i) {
                GgufValue element;
                value(v.arrayType, element, depth + 1);
                if (v.arrayType == STRING)
                    v.strings.push_back(std::move(element.text));
            }
            return;
        }
        default:
            fail("has an unknown value type " + std::to_string(type));
        }
        v.real = double(v.integer);
    }

private:
    const ByteReader &m_r;
};

} // namespace

std::uint64_t GgufTensor::elements() const
{
    // Saturates: dimensions whose product passes 2^64 must not wrap to a small count.
    if (std::find(dims.begin(), dims.end(), 0) != dims.end())
        return 0;
    std::uint64_t n = 1;
    for (std::uint64_t d : dims) {
        if (n > std::numeric_limits<std::uint64_t>::max() / d)
            return std::numeric_limits<std::uint64_t>::max();
        n *= d;
    }
    return n;
}

GgufFile::GgufFile(const std::string &path) : m_path(path), m_bytes(readBinaryFile(path))
{
    const ByteReader r(m_bytes, path);
    Cursor c(r);
    c.where = "header";
    if (m_bytes.size() < 4 || std::memcmp(m_bytes.data(), "GGUF", 4) != 0) {
        std::string found;
        for (std::size_t i = 0; i < 4 && i < m_bytes.size(); ++i) {
            const unsigned char b = static_cast<unsigned char>(m_bytes[i]);
            found += b >= 0x20 && b < 0x7f ? std::string(1, char(b)) : "\\x" + std::to_string(b);
        }
        r.fail("", "is not a GGUF file: bad magic '" + found + "' (expected 'GGUF')");
    }
    c.at = 4;
    m_version = std::uint32_t(c.take(4));
    if (m_version != 2 && m_version != 3)
        r.fail("header", "is GGUF version " + std::to_string(m_version) + " (versions 2 and 3 are read)");
    const std::uint64_t tensorCount = c.take(8);
    const std::uint64_t valueCount = c.take(8);

    for (std::uint64_t i = 0; i < valueCount; ++i) {
        c.where = "key-value " + std::to_string(i) + " of " + std::to_string(valueCount);
        std::string key = c.string();
        c.where = "key '" + key + "'";
        GgufValue v;
        v.type = std::uint32_t(c.take(4));
        c.value(v.type, v, 0);
        m_values[std::move(key)] = std::move(v);
    }
    if (const GgufValue *a = value("general.alignment")) {
        if (a->type != U32 || a->integer <= 0 || (a->integer & (a->integer - 1)) != 0)
            r.fail("key 'general.alignment'",
                   "must be a power of two (uint32), is " + std::to_string(a->integer));
        m_alignment = std::uint64_t(a->integer);
    }

    for (std::uint64_t i = 0; i < tensorCount; ++i) {
        c.where = "tensor table, tensor " + std::to_string(i) + " of " + std::to_string(tensorCount);
        GgufTensor t;
        t.name = c.string();
        c.where += " ('" + t.name + "')";
        const std::uint64_t dims = c.take(4);
        if (dims == 0 || dims > kMaxDims)
            c.fail("has " + std::to_string(dims) + " dimensions (1 to " + std::to_string(kMaxDims) +
                   " allowed)");
        for (std::uint64_t d = 0; d < dims; ++d)
            t.dims.push_back(c.take(8));
        t.type = std::uint32_t(c.take(4));
        t.offset = c.take(8);
        if (t.offset % m_alignment != 0)
            c.fail("data offset " + std::to_string(t.offset) + " is not a multiple of the alignment " +
                   std::to_string(m_alignment));
        m_tensors.push_back(std::move(t));
    }
    // The data starts at the next multiple of the alignment after the tensor table.
    const std::uint64_t dataStart = (c.at + m_alignment - 1) / m_alignment * m_alignment;
    if (tensorCount > 0 && dataStart > m_bytes.size())
        r.fail("tensor data", "starts at offset " + std::to_string(dataStart) +
                                  ", past the end of the file (" + std::to_string(m_bytes.size()) +
                                  " bytes)");
    for (GgufTensor &t : m_tensors) {
        if (t.offset > m_bytes.size() - std::min<std::uint64_t>(dataStart, m_bytes.size()))
            r.fail("tensor '" + t.name + "'",
                   "data offset " + std::to_string(t.offset) + " lies past the end of the file");
        t.offset += dataStart;
    }
}

const GgufValue *GgufFile::value(const std::string &key) const
{
    const auto it = m_values.find(key);
    return it == m_values.end() ? nullptr : &it->second;
}

const GgufTensor *GgufFile::tensor(const std::string &name) const
{
    for (const GgufTensor &t : m_tensors)
        if (t.name == name)
            return &t;
    return nullptr;
}

std::vector<float> GgufFile::f32(const GgufTensor &t) const
{
    const ByteReader r(m_bytes, m_path);
    if (t.type != kGgmlF32)
        r.fail("tensor '" + t.name + "'", "has ggml type " + std::to_string(t.type) + "; F32 (0) expected");
    const std::uint64_t n = t.elements();
    if (n > m_bytes.size() / 4) {
        std::string dims;
        for (std::uint64_t d : t.dims)
            dims += (dims.empty() ? "" : ", ") + std::to_string(d);
        r.fail("tensor '" + t.name + "'", "has dimensions [" + dims + "]: more elements than the file holds bytes (" +
                                              std::to_string(m_bytes.size()) + ")");
    }
    const std::string_view data = r.slice(t.offset, n * 4, "tensor '" + t.name + "' data");
    std::vector<float> out(n);
    for (std::uint64_t i = 0; i < n; ++i) {
        const auto bits = std::uint32_t(r.le(std::uint64_t(data.data() - m_bytes.data()) + 4 * i, 4));
        std::memcpy(&out[i], &bits, 4);
    }
    return out;
}

} // namespace moescope::import
