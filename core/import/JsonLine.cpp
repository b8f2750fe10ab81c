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
                    v = v * 10 + (*p - '0');
                    ++p;
                    ++digits;
                }
                m_p = p;
                if (digits > 9)
                    fail("integer too large");
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
