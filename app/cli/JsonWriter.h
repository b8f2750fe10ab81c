#pragma once
// A small streaming JSON writer for the headless commands' output: keys in the order
// written, doubles in shortest round-trip form, NaN and infinity as null.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace moescope::cli {

class JsonWriter {
public:
    JsonWriter &beginObject();
    JsonWriter &endObject();
    JsonWriter &beginArray();
    JsonWriter &endArray();
    JsonWriter &key(const std::string &name);

    JsonWriter &value(const std::string &s);
    JsonWriter &value(const char *s) { return value(std::string(s)); }
    JsonWriter &value(double d);
    JsonWriter &value(std::int64_t i);
    JsonWriter &value(int i) { return value(std::int64_t(i)); }
    JsonWriter &value(std::size_t i) { return value(std::int64_t(i)); }
    JsonWriter &value(bool b);
    JsonWriter &null();
    template <typename T>
    JsonWriter &value(const std::optional<T> &v) { return v ? value(*v) : null(); }
    template <typename T>
    JsonWriter &array(const std::vector<T> &values)
    {
        beginArray();
        for (const auto &v : values)
            value(v);
        return endArray();
    }

    const std::string &text() const { return m_out; }

private:
    void separate();
    std::string m_out;
    std::vector<bool> m_first; // per open container: nothing written in it yet
    bool m_afterKey = false;
};

std::string jsonEscape(const std::string &s);

} // namespace moescope::cli
