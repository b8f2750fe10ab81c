#include "import/JsonLine.h"

namespace moescope::import {

void JsonLine::fail(const std::string &problem) const
{
    if (m_p >= m_end)
        throw JsonLineError(problem + " (the line ends at column " + std::to_string(m_end - m_begin) +
                            ": truncated?)");
    throw JsonLineError(problem + " at column " + std::to_string(m_p - m_begin + 1));
}

void JsonLine::expect(char c)
{
    skipSpace();
    if (m_p >= m_end || *m_p != c)
        fail(std::string("expected '") + c + "'");
    ++m_p;
}

bool JsonLine::nextKey(std::string_view &key)
{
    skipSpace();
    if (m_p < m_end && *m_p == '}') {
        ++m_p;
        return false;
    }
    if (!m_first)
        expect(',');
    m_first = false;
    key = string();
    expect(':');
    return true;
}

void JsonLine::atEnd()
{
    skipSpace();
    if (m_p != m_end)
        fail("unexpected text after the object");
}

std::int64_t JsonLine::integer()
{
    skipSpace();
    bool negative = false;
    if (m_p < m_end && *m_p == '-') {
        negative = true;
        ++m_p;
    }
    if (m_p >= m_end || unsigned(*m_p - '0') > 9)
        fail("expected an integer");
    std::uint64_t v = 0;
    int digits = 0;
    while (m_p < m_end && unsigned(*m_p - '0') <= 9) {
        v = v * 10 + unsigned(*m_p - '0');
        ++m_p;
        if (++digits > 18)
            fail("integer too large");
    }
    if (m_p < m_end && (*m_p == '.' || *m_p == 'e' || *m_p == 'E'))
        fail("expected an integer, found a fraction or exponent");
    return negative ? -std::int64_t(v) : std::int64_t(v);
}

std::string_view JsonLine::string()
{
    skipSpace();
    if (m_p >= m_end || *m_p != '"')
        fail("expected a string");
    const char *start = ++m_p;
    while (m_p < m_end && *m_p != '"')
        m_p += *m_p == '\\' ? 2 : 1;
    if (m_p >= m_end)
        fail("unterminated string");
    return {start, std::size_t(m_p++ - start)};
}

void JsonLine::skipValue()
{
    skipSpace();
    if (m_p >= m_end)
        fail("expected a value");
    const char c = *m_p;
    if (c == '"') {
        string();
    } else if (c == '{' || c == '[') {
        // Nesting by counting brackets outside strings.
        int depth = 0;
        do {
            if (m_p >= m_end)
                fail("unterminated array or object");
            if (*m_p == '"') {
                string();
                continue;
            }
            if (*m_p == '{' || *m_p == '[')
                ++depth;
            else if (*m_p == '}' || *m_p == ']')
                --depth;
            ++m_p;
        } while (depth > 0);
    } else {
        // number, true, false, null
        const char *start = m_p;
        while (m_p < m_end && *m_p != ',' && *m_p != '}' && *m_p != ']' && *m_p != ' ')
            ++m_p;
        if (m_p == start)
            fail("expected a value");
    }
}

std::int64_t JsonLine::integerRows(std::vector<std::int32_t> &out, std::int64_t &width)
{
    expect('[');
    skipSpace();
    std::int64_t rows = 0;
    if (m_p < m_end && *m_p == ']') {
        ++m_p;
        return 0;
    }
    const char *end = m_end;
    for (;;) {
        expect('[');
        std::int64_t n = 0;
        skipSpace();
        if (m_p < end && *m_p == ']') {
            ++m_p;
        } else {
            // The hot loop: small non-negative ids separated by ", ".
            for (;;) {
                const char *p = m_p;
                bool negative = false;
                if (p < end && *p == '-') {
                    negative = true;
                    ++p;
                }
                if (p >= end || unsigned(*p - '0') > 9) {
                    m_p = p;
                    fail("expected an integer");
                }
                std::int64_t v = 0;
                int digits = 0;
                while (p < end && unsigned(*p - '0') <= 9) {
                    if (++digits > 9) { // refused before it can overflow, however long the number
                        m_p = p;
                        fail("integer too large");
                    }
                    v = v * 10 + (*p - '0');
                    ++p;
                }
                m_p = p;
                out.push_back(std::int32_t(negative ? -v : v));
                ++n;
                while (p < end && *p == ' ')
                    ++p;
                if (p < end && *p == ',') {
                    ++p;
                    while (p < end && *p == ' ')
                        ++p;
                    m_p = p;
                    continue;
                }
                m_p = p;
                if (p < end && *p == ']') {
                    ++m_p;
                    break;
                }
                fail("expected ',' or ']'");
            }
        }
        if (width < 0)
            width = n;
        else if (n != width)
            fail("row " + std::to_string(rows) + " has " + std::to_string(n) + " entries, expected " +
                 std::to_string(width));
        ++rows;
        skipSpace();
        if (m_p < end && *m_p == ',') {
            ++m_p;
            continue;
        }
        expect(']');
        return rows;
    }
}

namespace {

// Parses [0-9]+ at p (at most 5 digits: ids fit int16). Returns the end or null.
inline const char *digits(const char *p, const char *end, int &v)
{
    if (p >= end || unsigned(*p - '0') > 9)
        return nullptr;
    v = *p++ - '0';
    for (int n = 1; p < end && unsigned(*p - '0') <= 9; ++n) {
        if (n == 5)
            return nullptr;
        v = v * 10 + (*p++ - '0');
    }
    return p;
}

} // namespace

void JsonLine::integerRowsInto(std::int16_t *out, std::int64_t rows, std::int64_t width, const char *what)
{
    expect('[');
    // The hot loop, for the layout Python's json.dumps writes: "[3, 17, 42], [..." with
    // ids that fit int16. Where anything else comes (other spacing, a sign, a wrong
    // count, the end), the careful loop takes over from that row.
    const char *const end = m_end;
    std::int64_t r = 0;
    for (; r < rows; ++r) {
        const char *q = m_p;
        if (r > 0) {
            if (end - q < 2 || q[0] != ',' || q[1] != ' ')
                break;
            q += 2;
        }
        if (q >= end || *q != '[')
            break;
        ++q;
        std::int16_t *row = out + r * width;
        std::int64_t n = 0;
        for (; n < width; ++n) {
            int v;
            const char *after = digits(q, end, v);
            if (!after || v > 32767)
                break;
            row[n] = std::int16_t(v);
            q = after;
            if (n + 1 < width) {
                if (end - q < 2 || q[0] != ',' || q[1] != ' ')
                    break;
                q += 2;
            }
        }
        if (n != width || q >= end || *q != ']')
            break;
        m_p = q + 1;
    }
    integerRowsFrom(out, r, rows, width, what);
}

void JsonLine::integerRowsFrom(std::int16_t *out, std::int64_t first, std::int64_t rows, std::int64_t width,
                               const char *what)
{
    const char *p = m_p;
    const char *const end = m_end;
    auto space = [&] {
        while (p < end && *p == ' ')
            ++p;
    };
    // On a problem: stand where it is, for the column in the message.
    auto problem = [&](const std::string &text) {
        m_p = p;
        fail(text);
    };
    for (std::int64_t r = first; r < rows; ++r) {
        space();
        if (r > 0) {
            if (p < end && *p == ']')
                problem(std::string(what) + " has " + std::to_string(r) + " rows, num_tokens says " + std::to_string(rows));
            if (p >= end || *p != ',')
                problem("expected ',' between the rows of " + std::string(what));
            ++p;
            space();
        }
        if (p >= end || *p != '[')
            problem("expected '[' starting a row of " + std::string(what));
        ++p;
        space();
        std::int16_t *row = out + r * width;
        std::int64_t n = 0;
        if (p < end && *p == ']') {
            ++p;
        } else {
            for (;;) {
                const bool negative = p < end && *p == '-';
                p += negative;
                int v = 0;
                const char *after = digits(p, end, v);
                if (!after) {
                    if (p < end && unsigned(*p - '0') <= 9)
                        problem(std::string("an expert id in ") + what + " is too large");
                    problem(std::string("expected an integer in ") + what);
                }
                p = after;
                if (v > 32767)
                    problem(std::string("an expert id in ") + what + " is too large");
                if (n < width)
                    row[n] = std::int16_t(negative ? -v : v);
                ++n;
                space();
                if (p < end && *p == ',') {
                    ++p;
                    space();
                    continue;
                }
                if (p < end && *p == ']') {
                    ++p;
                    break;
                }
                problem(std::string("expected ',' or ']' in ") + what);
            }
        }
        if (n != width)
            problem(std::string(what) + " row " + std::to_string(r) + " has " + std::to_string(n) + " ids, topk says " +
                    std::to_string(width));
    }
    space();
    if (p < end && *p == ',')
        problem(std::string(what) + " has more than the " + std::to_string(rows) + " rows num_tokens says");
    if (p >= end)
        problem(std::string(what) + " is not closed");
    if (*p != ']')
        problem(std::string("expected ']' closing ") + what);
    m_p = p + 1;
}

std::size_t JsonLine::integers(std::vector<std::int64_t> &out)
{
    expect('[');
    skipSpace();
    std::size_t n = 0;
    if (m_p < m_end && *m_p == ']') {
        ++m_p;
        return 0;
    }
    for (;;) {
        out.push_back(integer());
        ++n;
        skipSpace();
        if (m_p < m_end && *m_p == ',') {
            ++m_p;
            continue;
        }
        expect(']');
        return n;
    }
}

} // namespace moescope::import
