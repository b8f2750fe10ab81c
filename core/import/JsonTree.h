#pragma once
// A small JSON document reader for the importers whose files are whole JSON
// documents (vLLM responses saved to disk), not one object per line. Arrays of plain
// integers, the bulk of such files, are kept as one vector each rather than a node
// per number. Malformed text throws DumpError naming the file and the line:column.
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace moescope::import {

struct JsonMember;

struct JsonNode {
    enum class Kind { Null, Bool, Number, String, Array, IntArray, Object };
    Kind kind = Kind::Null;
    bool boolean = false;
    double number = 0;
    bool isInteger = false;             // Number: written without fraction or exponent
    std::int64_t integer = 0;           // Number: its value when isInteger
    std::string text;                   // String: unescaped
    std::vector<JsonNode> items;        // Array
    std::vector<std::int64_t> integers; // IntArray: an array whose elements are all integers
    std::vector<JsonMember> members;    // Object, in file order

    bool isArray() const { return kind == Kind::Array || kind == Kind::IntArray; }
    std::size_t length() const { return kind == Kind::IntArray ? integers.size() : items.size(); }
    const JsonNode *find(std::string_view key) const;
};

// One member of an object. Not a std::pair: a pair of a type still being defined
// (JsonNode holds its members) is refused by clang's library checks.
struct JsonMember {
    std::string first;                  // the key
    JsonNode second;                    // the value
};

// Every top-level value of `text` (one document, or JSON Lines: one per line).
std::vector<JsonNode> parseJsonValues(std::string_view text, const std::string &file);

// Standard base64 (RFC 4648, padding optional, whitespace ignored); nullopt-like
// failure is reported by returning false.
bool decodeBase64(std::string_view text, std::string &out);

} // namespace moescope::import
