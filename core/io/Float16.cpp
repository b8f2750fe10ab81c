#include "io/Float16.h"

#include <cstring>

#if defined(__x86_64__) || defined(__i386__)
#include "common/CpuFeatures.h"

#include <immintrin.h>
#define MOESCOPE_HAVE_X86 1
#endif

namespace moescope {

float halfToFloat(std::uint16_t h)
{
    const std::uint32_t sign = (h & 0x8000u) << 16;
    std::uint32_t exponent = (h >> 10) & 0x1fu;
    std::uint32_t mantissa = h & 0x3ffu;
    std::uint32_t bits;
    if (exponent == 0x1f) { // infinity or NaN
        bits = sign | 0x7f800000u | (mantissa << 13);
    } else if (exponent != 0) { // normal
        bits = sign | ((exponent + 112) << 23) | (mantissa << 13);
    } else if (mantissa == 0) { // signed zero
        bits = sign;
    } else { // subnormal: shift until the leading 1 becomes implicit
        exponent = 113;
        while ((mantissa & 0x400u) == 0) {
            mantissa <<= 1;
            --exponent;
        }
        bits = sign | (exponent << 23) | ((mantissa & 0x3ffu) << 13);
    }
    float f;
    std::memcpy(&f, &bits, sizeof f);
    return f;
}

namespace {
void convertScalar(const std::uint16_t *in, float *out, std::size_t n)
{
    for (std::size_t i = 0; i < n; ++i)
        out[i] = halfToFloat(in[i]);
}

#ifdef MOESCOPE_HAVE_X86
__attribute__((target("avx,f16c"))) void convertF16c(const std::uint16_t *in, float *out,
                                                     std::size_t n)
{
    std::size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i *>(in + i));
        _mm256_storeu_ps(out + i, _mm256_cvtph_ps(h));
    }
    convertScalar(in + i, out + i, n - i);
}
#endif
} // namespace

void halvesToFloats(const std::uint16_t *in, float *out, std::size_t n)
{
#ifdef MOESCOPE_HAVE_X86
    // "avx" also covers the operating system's support of AVX state.
    static const bool hasF16c = cpuHasF16c() && __builtin_cpu_supports("avx");
    if (hasF16c) {
        convertF16c(in, out, n);
        return;
    }
#endif
    convertScalar(in, out, n);
}

} // namespace moescope
