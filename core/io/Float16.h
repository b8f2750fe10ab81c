#pragma once
// IEEE 754 binary16 to float conversion. HDF5 1.10 converts float16 through its slow
// generic path, so the reader fetches the raw 2-byte values and converts them here:
// with the F16C instructions where the CPU has them, bit by bit elsewhere.
#include <cstddef>
#include <cstdint>

namespace moescope {

float halfToFloat(std::uint16_t h);

// Converts n halves (native byte order) to floats; safe for any n and alignment.
void halvesToFloats(const std::uint16_t *in, float *out, std::size_t n);

} // namespace moescope
