#include "import/NpyArray.h"

#include "import/BinaryFile.h"
#include "import/ZipEntries.h"
#include "io/DumpError.h"

#include <cctype>
#include <limits>

namespace moescope::import {

namespace {

// The header is a Python dict literal: {'descr': '<i2', 'fortran_order': False, 'shape': (3, 4, 2), }
struct Header {
    std::string descr;
    bool fortran = false;
    std::vector<std::int64_t> shape;
};

class HeaderParser {
public:
    HeaderParser(std::string_view text, const std::string &file, const std::string &name)
        : m_text(text), m_file(file), m_name(name)
    {
    }

    Header parse()
    {
        Header h;
        bool haveDescr = false, haveOrder = false, haveShape = false;
        expect('{');
        while (true) {
            skip();
            if (peek() == '}')
                break;
            const std::string key = quoted();
            expect(':');
            if (key == "descr") {
                skip();
                if (peek() != '\'' && peek() != '"')
                    fail("is a structured array (descr is not a plain type); save plain integer arrays");
                h.descr = quoted();
                haveDescr = true;
            } else if (key == "fortran_order") {
                skip();
                if (m_text.substr(m_at, 4) == "True")
                    h.fortran = true, m_at += 4;
                else if (m_text.substr(m_at, 5) == "False")
                    m_at += 5;
                else
                    fail("has a fortran_order that is neither True nor False");
                haveOrder = true;
            } else if (key == "shape") {
                h.shape = tuple();
                haveShape = true;
            } else {
                fail("has an unknown header key '" + key + "'");
            }
            skip();
            if (peek() == ',')
                ++m_at;
        }
        if (!haveDescr || !haveOrder || !haveShape)
            fail("header lacks descr, fortran_order or shape");
        return h;
    }

private:
    [[noreturn]] void fail(const std::string &problem) const { throw DumpError(m_file, m_name, problem); }
    void skip()
    {
        while (m_at < m_text.size() && std::isspace(static_cast<unsigned char>(m_text[m_at])))
            ++m_at;
    }
    char peek() const { return m_at < m_text.size() ? m_text[m_at] : '\0'; }
    void expect(char c)
    {
        skip();
        if (peek() != c)
            fail(std::string("header is malformed: expected '") + c + "'");
        ++m_at;
    }
    std::string quoted()
    {
        skip();
        const char q = peek();
        if (q != '\'' && q != '"')
            fail("header is malformed: expected a quoted key");
        const std::size_t end = m_text.find(q, m_at + 1);
        if (end == std::string_view::npos)
            fail("header is malformed: an unterminated string");
        std::string s(m_text.substr(m_at + 1, end - m_at - 1));
        m_at = end + 1;
        return s;
    }
    std::vector<std::int64_t> tuple()
    {
        expect('(');
        std::vector<std::int64_t> dims;
        while (true) {
            skip();
            if (peek() == ')') {
                ++m_at;
                return dims;
            }
            std::int64_t v = 0;
            bool digits = false;
            while (std::isdigit(static_cast<unsigned char>(peek()))) {
                if (v > (std::numeric_limits<std::int64_t>::max() - 9) / 10)
                    fail("has a dimension too large");
                v = v * 10 + (peek() - '0');
                ++m_at, digits = true;
            }
            if (!digits)
                fail("header is malformed: a shape entry is not a number");
            dims.push_back(v);
            skip();
            if (peek() == ',')
                ++m_at;
        }
    }

    std::string_view m_text;
    const std::string &m_file;
    const std::string &m_name;
    std::size_t m_at = 0;
};

// C-order index of the element that sits at Fortran position `f`.
std::int64_t cIndexOfFortran(std::int64_t f, const std::vector<std::int64_t> &shape)
{
    std::int64_t c = 0, cStride = 1;
    std::vector<std::int64_t> index(shape.size());
    for (std::size_t d = 0; d < shape.size(); ++d) {
        index[d] = f % shape[d];
        f /= shape[d];
    }
    for (std::size_t d = shape.size(); d-- > 0;) {
        c += index[d] * cStride;
        cStride *= shape[d];
    }
    return c;
}

} // namespace

std::int64_t NpyArray::size() const
{
    std::int64_t n = 1;
    for (std::int64_t d : shape)
        n *= d;
    return n;
}

NpyArray parseNpy(std::string_view bytes, const std::string &file, const std::string &name, bool otherTypes)
{
    const ByteReader r(bytes, file);
    const auto fail = [&](const std::string &problem) -> void { throw DumpError(file, name, problem); };
    if (bytes.size() < 10 || bytes.substr(0, 6) != std::string_view("\x93NUMPY", 6))
        fail("is not a numpy .npy array (bad magic)");
    const int major = static_cast<unsigned char>(bytes[6]);
    if (major < 1 || major > 3)
        fail("is a .npy of format version " + std::to_string(major) + " (1, 2 and 3 are read)");
    const std::uint64_t headerLength = major == 1 ? r.u16At(8) : r.u32At(8);
    const std::uint64_t headerStart = major == 1 ? 10 : 12;
    const Header h = HeaderParser(r.slice(headerStart, headerLength, "the .npy header"), file, name).parse();

    NpyArray a;
    a.name = name;
    a.dtype = h.descr;
    a.shape = h.shape;
    char order = h.descr.empty() ? '?' : h.descr[0];
    std::string kind = h.descr;
    if (order == '<' || order == '>' || order == '|' || order == '=')
        kind = h.descr.substr(1);
    else
        order = '=';
    if (kind.size() != 2 || (kind[0] != 'i' && kind[0] != 'u') ||
        (kind[1] != '1' && kind[1] != '2' && kind[1] != '4' && kind[1] != '8')) {
        if (otherTypes) {
            a.integer = false;
            return a;
        }
        fail("holds " + h.descr + " values; integer arrays (int8 .. int64, uint8 .. uint64) are expected");
    }
    const int width = kind[1] - '0';
    const bool bigEndian = order == '>';
    const bool isSigned = kind[0] == 'i';

    std::int64_t count = 1;
    for (std::int64_t d : a.shape) {
        if (d != 0 && count > std::numeric_limits<std::int64_t>::max() / width / d)
            fail("has a shape too large");
        count *= d;
    }
    const std::string_view data =
        r.slice(headerStart + headerLength, std::uint64_t(count) * width,
                (name.empty() ? std::string("the array data") : "array '" + name + "'"));
    a.values.resize(std::size_t(count));
    for (std::int64_t i = 0; i < count; ++i) {
        std::uint64_t u = 0;
        for (int b = 0; b < width; ++b) {
            const unsigned char byte = static_cast<unsigned char>(data[std::size_t(i) * width + b]);
            u |= std::uint64_t(byte) << (8 * (bigEndian ? width - 1 - b : b));
        }
        std::int64_t v;
        if (isSigned && width < 8 && (u >> (8 * width - 1)) & 1)
            v = std::int64_t(u | (~std::uint64_t(0) << (8 * width)));
        else if (!isSigned && width == 8 && u > std::uint64_t(std::numeric_limits<std::int64_t>::max()))
            v = -1; // beyond int64: reported as out of range by the caller's checks
        else
            v = std::int64_t(u);
        const std::int64_t at = h.fortran && a.shape.size() > 1 ? cIndexOfFortran(i, a.shape) : i;
        a.values[std::size_t(at)] = v;
    }
    return a;
}

NpyArray readNpy(const std::string &path)
{
    const std::string bytes = readBinaryFile(path);
    return parseNpy(bytes, path);
}

std::vector<NpyArray> readNpz(const std::string &path)
{
    std::vector<NpyArray> arrays;
    for (const ZipEntry &e : readZipEntries(path)) {
        std::string name = e.name;
        if (name.size() > 4 && name.compare(name.size() - 4, 4, ".npy") == 0)
            name.resize(name.size() - 4);
        arrays.push_back(parseNpy(e.data, path, name, true));
    }
    return arrays;
}

} // namespace moescope::import
