#pragma once
// The storage type of a layer's logits: what the reader (core/io) finds in a dump and
// hands over, and what the routing engines (core/routing) take rows of. Both include
// this header; neither includes the other for it.
#include <cstddef>

namespace moescope {

enum class LogitsType { Float16, Float32, Float64 };

// "float16", "float32" or "float64", as `info` prints it.
constexpr const char *logitsTypeName(LogitsType type)
{
    switch (type) {
    case LogitsType::Float16: return "float16";
    case LogitsType::Float32: return "float32";
    case LogitsType::Float64: return "float64";
    }
    return "float32";
}

// Bytes per value.
constexpr std::size_t logitsTypeBytes(LogitsType type)
{
    return type == LogitsType::Float16 ? 2 : type == LogitsType::Float64 ? 8 : 4;
}

} // namespace moescope
