#include "import/JsonTree.h"

#include "io/DumpError.h"

#include <cctype>
#include <cmath>
#include <cstdlib>
#include <limits>

namespace moescope::import {

const JsonNode *JsonNode::find(std::string_view key) const
{
    for (const auto &m : members)
        if (m.first == key)
            return &m.second;
    return nullptr;
}

namespace {

class Parser {
public:
    Parser(std::string_view text, const std::string &file) : m_text(text), m_file(file) {}

    std::vector<JsonNode> all()
    {
        std::vector<JsonNode> values;
        skip();
        while (m_at < m_text.size()) {
            values.push_back(value(0));
            skip();
            if (m_at < m_text.size() && m_text[m_at] == ',')
                fail("a comma between top-level values");
        }
        if (values.empty())
            fail("no JSON value");
        return values;
    }

private:
    static constexpr int kMaxDepth = 64;

    [[noreturn]] void fail(const std::string &problem) const
    {
        long long line = 1, column = 1;
        for (std::size_t i = 0; i < m_at && i < m_text.size(); ++i) {
            if (m_text[i] == '\n')
                ++line, column = 1;
            else
                ++column;
        }
        throw DumpError(m_file, "line " + std::to_string(line) + ", column " + std::to_string(column),
                        "malformed JSON: " + problem);
    }
    void skip()
    {
        while (m_at < m_text.size() &&
               (m_text[m_at] == ' ' || m_text[m_at] == '\t' || m_text[m_at] == '\n' || m_text[m_at] == '\r'))
            ++m_at;
    }
    char peek()
    {
        skip();
        if (m_at >= m_text.size())
            fail("the text ends inside a value");
        return m_text[m_at];
    }
    void literal(std::string_view word)
    {
        if (m_text.substr(m_at, word.size()) != word)
            fail("an unexpected character");
        m_at += word.size();
    }

    JsonNode value(int depth)
    {
        if (depth > kMaxDepth)
            fail("values nested deeper than " + std::to_string(kMaxDepth));
        JsonNode n;
        const char c = peek();
        if (c == '{') {
            n.kind = JsonNode::Kind::Object;
            ++m_at;
            if (peek() == '}') {
                ++m_at;
                return n;
            }
            while (true) {
                if (peek() != '"')
                    fail("an object key that is not a string");
                std::string key = string();
                if (peek() != ':')
                    fail("a missing ':' after a key");
                ++m_at;
                n.members.push_back(JsonMember{std::move(key), value(depth + 1)});
                const char d = peek();
                ++m_at;
                if (d == '}')
                    return n;
                if (d != ',')
                    fail("a missing ',' or '}' in an object");
            }
        }
        if (c == '[') {
            n.kind = JsonNode::Kind::IntArray;
            ++m_at;
            if (peek() == ']') {
                ++m_at;
                return n;
            }
            while (true) {
                JsonNode item = value(depth + 1);
                if (n.kind == JsonNode::Kind::IntArray && item.kind == JsonNode::Kind::Number &&
                    item.isInteger) {
                    n.integers.push_back(item.integer);
                } else {
                    if (n.kind == JsonNode::Kind::IntArray) { // a mixed array after all: one node per item
                        n.kind = JsonNode::Kind::Array;
                        for (std::int64_t v : n.integers) {
                            JsonNode number;
                            number.kind = JsonNode::Kind::Number;
                            number.isInteger = true;
                            number.integer = v;
                            number.number = double(v);
                            n.items.push_back(number);
                        }
                        n.integers.clear();
                    }
                    n.items.push_back(std::move(item));
                }
                const char d = peek();
                ++m_at;
                if (d == ']')
                    return n;
                if (d != ',')
                    fail("a missing ',' or ']' in an array");
            }
        }
        if (c == '"') {
            n.kind = JsonNode::Kind::String;
            n.text = string();
            return n;
        }
        if (c == 't' || c == 'f') {
            n.kind = JsonNode::Kind::Bool;
            n.boolean = c == 't';
            literal(n.boolean ? "true" : "false");
            return n;
        }
        if (c == 'n') {
            literal("null");
            return n;
        }
        return number();
    }

    JsonNode number()
    {
        JsonNode n;
        n.kind = JsonNode::Kind::Number;
        const std::size_t start = m_at;
        if (m_text[m_at] == '-')
            ++m_at;
        bool digits = false, integral = true;
        std::uint64_t magnitude = 0;
        bool overflow = false;
        while (m_at < m_text.size() && m_text[m_at] >= '0' && m_text[m_at] <= '9') {
            const unsigned d = unsigned(m_text[m_at] - '0');
            if (magnitude > (std::numeric_limits<std::uint64_t>::max() - d) / 10)
                overflow = true;
            else
                magnitude = magnitude * 10 + d;
            ++m_at, digits = true;
        }
        if (!digits)
            fail("an unexpected character");
        if (m_at < m_text.size() && (m_text[m_at] == '.' || m_text[m_at] == 'e' || m_text[m_at] == 'E')) {
            integral = false;
            while (m_at < m_text.size() &&
                   (std::isdigit(static_cast<unsigned char>(m_text[m_at])) || m_text[m_at] == '.' ||
                    m_text[m_at] == 'e' || m_text[m_at] == 'E' || m_text[m_at] == '+' || m_text[m_at] == '-'))
                ++m_at;
        }
        const std::string token(m_text.substr(start, m_at - start));
        char *end = nullptr;
        n.number = std::strtod(token.c_str(), &end);
        if (end != token.c_str() + token.size())
            fail("a malformed number");
        const bool negative = token[0] == '-';
        if (integral && !overflow && magnitude <= std::uint64_t(std::numeric_limits<std::int64_t>::max())) {
            n.isInteger = true;
            n.integer = negative ? -std::int64_t(magnitude) : std::int64_t(magnitude);
        }
        return n;
    }

    std::string string()
    {
        ++m_at; // the opening quote
        std::string s;
        while (true) {
            if (m_at >= m_text.size())
                fail("an unterminated string");
            const char c = m_text[m_at++];
            if (c == '"')
                return s;
            if (static_cast<unsigned char>(c) < 0x20)
                fail("a control character inside a string");
            if (c != '\\') {
                s += c;
                continue;
            }
            if (m_at >= m_text.size())
                fail("an unterminated string");
            const char e = m_text[m_at++];
            switch (e) {
            case '"':
                s += '"';
                break;
            case '\\':
                s += '\\';
                break;
            case '/':
                s += '/';
                break;
            case 'b':
                s += '\b';
                break;
            case 'f':
                s += '\f';
                break;
            case 'n':
                s += '\n';
                break;
            case 'r':
                s += '\r';
                break;
            case 't':
                s += '\t';
                break;
            case 'u': {
                if (m_at + 4 > m_text.size())
                    fail("a short \\u escape");
                const unsigned long cp =
                    std::strtoul(std::string(m_text.substr(m_at, 4)).c_str(), nullptr, 16);
                m_at += 4;
                // UTF-8 of the code point (surrogate pairs are kept as two code points: names only).
                if (cp < 0x80) {
                    s += char(cp);
                } else if (cp < 0x800) {
                    s += char(0xC0 | (cp >> 6));
                    s += char(0x80 | (cp & 0x3F));
                } else {
                    s += char(0xE0 | (cp >> 12));
                    s += char(0x80 | ((cp >> 6) & 0x3F));
                    s += char(0x80 | (cp & 0x3F));
                }
                break;
            }
            default:
                fail("an unknown escape in a string");
            }
        }
    }

    std::string_view m_text;
    const std::string &m_file;
    std::size_t m_at = 0;
};

int base64Value(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+' || c == '-')
        return 62;
    if (c == '/' || c == '_')
        return 63;
    return -1;
}

} // namespace

std::vector<JsonNode> parseJsonValues(std::string_view text, const std::string &file)
{
    return Parser(text, file).all();
}

bool decodeBase64(std::string_view text, std::string &out)
{
    out.clear();
    out.reserve(text.size() / 4 * 3);
    std::uint32_t bits = 0;
    int held = 0;
    bool padding = false;
    for (char c : text) {
        if (c == ' ' || c == '\n' || c == '\r' || c == '\t')
            continue;
        if (c == '=') {
            padding = true;
            continue;
        }
        const int v = base64Value(c);
        if (v < 0 || padding)
            return false;
        bits = (bits << 6) | std::uint32_t(v);
        held += 6;
        if (held >= 8) {
            held -= 8;
            out += char((bits >> held) & 0xFF);
        }
    }
    return held < 6; // a lone 6-bit group cannot end valid base64
}

} // namespace moescope::import
