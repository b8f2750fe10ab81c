#include "cli/JsonWriter.h"

#include <charconv>
#include <cmath>
#include <cstdio>

namespace moescope::cli {

std::string jsonEscape(const std::string &s)
{
    std::string out = "\"";
    for (unsigned char c : s) {
        switch (c) {
        case '"': out += "\\\""; break;
        case '\\': out += "\\\\"; break;
        case '\n': out += "\\n"; break;
        case '\r': out += "\\r"; break;
        case '\t': out += "\\t"; break;
        default:
            if (c < 0x20) {
                char buf[8];
                std::snprintf(buf, sizeof buf, "\\u%04x", c);
                out += buf;
            } else {
                out += char(c); // UTF-8 passes through
            }
        }
    }
    return out + "\"";
}

void JsonWriter::separate()
{
    if (m_afterKey) {
        m_afterKey = false;
        return;
    }
    if (!m_first.empty()) {
        if (!m_first.back())
            m_out += ", ";
        m_first.back() = false;
    }
}

JsonWriter &JsonWriter::beginObject()
{
    separate();
    m_out += '{';
    m_first.push_back(true);
    return *this;
}

JsonWriter &JsonWriter::endObject()
{
    m_out += '}';
    m_first.pop_back();
    return *this;
}

JsonWriter &JsonWriter::beginArray()
{
    separate();
    m_out += '[';
    m_first.push_back(true);
    return *this;
}

JsonWriter &JsonWriter::endArray()
{
    m_out += ']';
    m_first.pop_back();
    return *this;
}

JsonWriter &JsonWriter::key(const std::string &name)
{
    separate();
    m_out += jsonEscape(name) + ": ";
    m_afterKey = true;
    return *this;
}

JsonWriter &JsonWriter::value(const std::string &s)
{
    separate();
    m_out += jsonEscape(s);
    return *this;
}

JsonWriter &JsonWriter::value(double d)
{
    if (!std::isfinite(d))
        return null();
    separate();
    char buf[64];
    const auto result = std::to_chars(buf, buf + sizeof buf, d);
    std::string text(buf, result.ptr);
    // Keep it a JSON number that reads back as a float where it looks integral.
    if (text.find_first_of(".eEn") == std::string::npos)
        text += ".0";
    m_out += text;
    return *this;
}

JsonWriter &JsonWriter::value(std::int64_t i)
{
    separate();
    m_out += std::to_string(i);
    return *this;
}

JsonWriter &JsonWriter::value(bool b)
{
    separate();
    m_out += b ? "true" : "false";
    return *this;
}

JsonWriter &JsonWriter::null()
{
    separate();
    m_out += "null";
    return *this;
}

} // namespace moescope::cli
