#pragma once
// GGUF files (ggml's format, versions 2 and 3), read without ggml: the header, the
// key-value table and the tensor table, with the alignment rule of the GGUF spec
// (`general.alignment`, default 32; the tensor data starts at the next multiple of
// it after the tensor table, and every tensor offset is a multiple of it). Every
// length and offset is checked against the file's size, so a damaged file becomes a
// DumpError naming the file, the key or tensor, and the problem.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace moescope::import {

struct GgufValue {
    std::uint32_t type = 0;      // gguf_metadata_value_type (8: string, 9: array, ...)
    std::string text;            // a string
    std::int64_t integer = 0;    // an integer or bool
    double real = 0;             // a float (and integers, converted)
    std::uint32_t arrayType = 0; // an array's element type
    std::uint64_t arrayLength = 0;
    std::vector<std::string> strings; // an array of strings
};

struct GgufTensor {
    std::string name;
    std::vector<std::uint64_t> dims; // ne[0], ne[1], ... as written
    std::uint32_t type = 0;          // ggml_type (0: F32)
    std::uint64_t offset = 0;        // from the start of the file
    std::uint64_t elements() const; // the product of dims; 2^64 - 1 when it overflows
};

class GgufFile {
public:
    // Reads and checks the whole file; DumpError on anything that breaks the spec.
    explicit GgufFile(const std::string &path);

    const std::string &path() const { return m_path; }
    std::uint32_t version() const { return m_version; }
    std::uint64_t alignment() const { return m_alignment; }
    const std::map<std::string, GgufValue> &values() const { return m_values; }
    const GgufValue *value(const std::string &key) const;
    const std::vector<GgufTensor> &tensors() const { return m_tensors; }
    const GgufTensor *tensor(const std::string &name) const;

    // An F32 tensor's values; DumpError naming it when it has another type.
    std::vector<float> f32(const GgufTensor &t) const;

private:
    std::string m_path, m_bytes;
    std::uint32_t m_version = 0;
    std::uint64_t m_alignment = 32;
    std::map<std::string, GgufValue> m_values;
    std::vector<GgufTensor> m_tensors;
};

} // namespace moescope::import
