#pragma once
// A hand-written reader of one JSON object per line (JSONL), for importers that read
// millions of integers: values are parsed in place, with no document tree, and integer
// arrays go straight into the caller's buffer. Anything malformed throws JsonLineError
// with the problem and the byte column; the importer adds the file and the line.
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace moescope::import {

struct JsonLineError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

class JsonLine {
public:
    explicit JsonLine(std::string_view text) : m_p(text.data()), m_begin(text.data()), m_end(text.data() + text.size()) {}

    // The object's members in order: call beginObject(), then nextKey() until it
    // returns false, reading or skipping each value; then atEnd() checks nothing follows.
    void beginObject() { expect('{'); m_first = true; }
    bool nextKey(std::string_view &key);
    void atEnd();

    std::int64_t integer();
    std::string_view string(); // the raw text between the quotes (escapes left as written)
    void skipValue();
    // [[i, ...], ...]: appends every integer to `out` and checks each row has `width`
    // entries (width < 0: the first row's length, returned). Returns the number of rows.
    std::int64_t integerRows(std::vector<std::int32_t> &out, std::int64_t &width);
    // [i, ...] appended to `out`; returns how many.
    std::size_t integers(std::vector<std::int64_t> &out);
    // [[i, ...], ...] of exactly `rows` rows of `width` integers each, into out[rows * width];
    // `what` names the array in messages ("top_indices"). The record importers' hot loop.
    // Each must fit int16 (expert ids: E <= 4096, -1 padding).
    void integerRowsInto(std::int16_t *out, std::int64_t rows, std::int64_t width, const char *what);

    // Where the reader stands in the line, to come back to a value later (seek).
    std::size_t offset() const { return std::size_t(m_p - m_begin); }
    void seek(std::size_t offset) { m_p = m_begin + offset; }
    // After a value read on a second visit: the rest of the object (further members
    // are skipped) and nothing after it.
    void finishObject()
    {
        m_first = false;
        std::string_view key;
        while (nextKey(key))
            skipValue();
        atEnd();
    }

    [[noreturn]] void fail(const std::string &problem) const;

private:
    void skipSpace()
    {
        while (m_p < m_end && (*m_p == ' ' || *m_p == '\t' || *m_p == '\r' || *m_p == '\n'))
            ++m_p;
    }
    void expect(char c);
    void integerRowsFrom(std::int16_t *out, std::int64_t first, std::int64_t rows, std::int64_t width, const char *what);
    const char *m_p, *m_begin, *m_end;
    bool m_first = true;
};

} // namespace moescope::import
