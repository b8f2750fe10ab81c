#pragma once
// The AVX2 (+ FMA, F16C) operations of the vector row kernel (RowKernel.inl): the same
// contract as SimdAvx512.h with 8 float lanes, 8 lanes of 32-bit keys (float16 logits)
// and 4 lanes of 64-bit keys (float32 logits). Masks are all-ones lanes.
#include <immintrin.h>

#include <cstdint>

#define MOESCOPE_AVX2_TARGET "avx2,avx,fma,f16c,bmi,bmi2,popcnt"
#define MOESCOPE_AVX2_INLINE __attribute__((target(MOESCOPE_AVX2_TARGET), always_inline)) inline

namespace moescope::simd {

struct Avx2 {
    static constexpr int W = 8;
    static constexpr int HalfBlock = 16;
    static constexpr int Registers = 16;
    using F = __m256;

    // All-ones in the first n 32-bit lanes.
    MOESCOPE_AVX2_INLINE static __m256i lanes(int n)
    {
        return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    }
    MOESCOPE_AVX2_INLINE static F load(const float *p, int n)
    {
        if (n >= 8)
            return _mm256_loadu_ps(p);
        const __m256i in = lanes(n);
        return _mm256_blendv_ps(_mm256_set1_ps(-__builtin_inff()), _mm256_maskload_ps(p, in),
                                _mm256_castsi256_ps(in));
    }
    MOESCOPE_AVX2_INLINE static F load(const std::uint16_t *p, int n)
    {
        if (n >= 8)
            return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i *>(p)));
        alignas(16) std::uint16_t staged[8] = {};
        for (int i = 0; i < n; ++i)
            staged[i] = p[i];
        return _mm256_blendv_ps(_mm256_set1_ps(-__builtin_inff()),
                                _mm256_cvtph_ps(_mm_load_si128(reinterpret_cast<const __m128i *>(staged))),
                                _mm256_castsi256_ps(lanes(n)));
    }
    MOESCOPE_AVX2_INLINE static bool nonFinite(F x, int n)
    {
        // x - x is 0 for finite x and NaN for NaN or infinity.
        const int finite = _mm256_movemask_ps(_mm256_cmp_ps(_mm256_sub_ps(x, x), _mm256_setzero_ps(), _CMP_EQ_OQ));
        const int wanted = n >= 8 ? 0xff : (1 << n) - 1;
        return (finite & wanted) != wanted;
    }
    MOESCOPE_AVX2_INLINE static F set(float v) { return _mm256_set1_ps(v); }
    MOESCOPE_AVX2_INLINE static F zero() { return _mm256_setzero_ps(); }
    MOESCOPE_AVX2_INLINE static F add(F a, F b) { return _mm256_add_ps(a, b); }
    MOESCOPE_AVX2_INLINE static F sub(F a, F b) { return _mm256_sub_ps(a, b); }
    MOESCOPE_AVX2_INLINE static F fma(F a, F b, F c) { return _mm256_fmadd_ps(a, b, c); }
    MOESCOPE_AVX2_INLINE static F loadAligned(const float *p) { return _mm256_load_ps(p); }
    MOESCOPE_AVX2_INLINE static void store(float *p, F x) { _mm256_store_ps(p, x); }
    MOESCOPE_AVX2_INLINE static F vmax(F a, F b) { return _mm256_max_ps(a, b); }
    MOESCOPE_AVX2_INLINE static float largest(F x)
    {
        __m128 m = _mm_max_ps(_mm256_castps256_ps128(x), _mm256_extractf128_ps(x, 1));
        m = _mm_max_ps(m, _mm_movehl_ps(m, m));
        m = _mm_max_ss(m, _mm_movehdup_ps(m));
        return _mm_cvtss_f32(m);
    }
    MOESCOPE_AVX2_INLINE static float sum(F x)
    {
        __m128 s = _mm_add_ps(_mm256_castps256_ps128(x), _mm256_extractf128_ps(x, 1));
        s = _mm_add_ps(s, _mm_movehl_ps(s, s));
        s = _mm_add_ss(s, _mm_movehdup_ps(s));
        return _mm_cvtss_f32(s);
    }

    // e^x for x <= 0 within about 1 ulp; exactly 0 below -87.3 (no denormals).
    // e^(x - m) for x <= m.
    MOESCOPE_AVX2_INLINE static F expFrom(F x, F m) { return exp(_mm256_sub_ps(x, m)); }
    MOESCOPE_AVX2_INLINE static F exp(F x)
    {
        const __m256 tiny = _mm256_cmp_ps(x, _mm256_set1_ps(-87.3f), _CMP_LT_OQ);
        x = _mm256_max_ps(x, _mm256_set1_ps(-87.3f));
        const __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                                         _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
        __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
        r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
        const __m256 z = _mm256_mul_ps(r, r);
        __m256 y = _mm256_set1_ps(1.9875691500e-4f);
        y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(1.3981999507e-3f));
        y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(8.3334519073e-3f));
        y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(4.1665795894e-2f));
        y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(1.6666665459e-1f));
        y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(5.0000001201e-1f));
        y = _mm256_add_ps(_mm256_fmadd_ps(y, z, r), _mm256_set1_ps(1.0f));
        // 2^n built in the exponent field; n >= -126 here, so it is a normal number.
        const __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
        return _mm256_andnot_ps(tiny, _mm256_mul_ps(y, _mm256_castsi256_ps(e)));
    }

    // ln x for positive normal x (see SimdAvx512.h).
    MOESCOPE_AVX2_INLINE static F log(F x)
    {
        const __m256i bits = _mm256_castps_si256(x);
        __m256 e = _mm256_cvtepi32_ps(
            _mm256_sub_epi32(_mm256_srli_epi32(bits, 23), _mm256_set1_epi32(127)));
        __m256 f = _mm256_castsi256_ps(_mm256_or_si256(_mm256_and_si256(bits, _mm256_set1_epi32(0x7fffff)),
                                                       _mm256_set1_epi32(0x3f800000))); // [1, 2)
        const __m256 high = _mm256_cmp_ps(f, _mm256_set1_ps(1.41421356237f), _CMP_GT_OQ);
        f = _mm256_blendv_ps(f, _mm256_mul_ps(f, _mm256_set1_ps(0.5f)), high);
        e = _mm256_add_ps(e, _mm256_and_ps(high, _mm256_set1_ps(1.0f)));
        const __m256 r = _mm256_sub_ps(f, _mm256_set1_ps(1.0f));
        const __m256 z = _mm256_mul_ps(r, r);
        __m256 y = _mm256_set1_ps(7.0376836292e-2f);
        y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(-1.1514610310e-1f));
        y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(1.1676998740e-1f));
        y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(-1.2420140846e-1f));
        y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(1.4249322787e-1f));
        y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(-1.6668057665e-1f));
        y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(2.0000714765e-1f));
        y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(-2.4999993993e-1f));
        y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(3.3333331174e-1f));
        y = _mm256_mul_ps(_mm256_mul_ps(y, r), z);
        y = _mm256_fmadd_ps(e, _mm256_set1_ps(-2.12194440e-4f), y);
        y = _mm256_fmadd_ps(z, _mm256_set1_ps(-0.5f), y);
        return _mm256_fmadd_ps(e, _mm256_set1_ps(0.693359375f), _mm256_add_ps(r, y));
    }
    MOESCOPE_AVX2_INLINE static F div(F a, F b) { return _mm256_div_ps(a, b); }
    MOESCOPE_AVX2_INLINE static F loadUnaligned(const float *p) { return _mm256_loadu_ps(p); }

    struct Keys32 {
        using V = __m256i;
        using Mask = __m256i;
        using Scalar = std::int32_t;
        MOESCOPE_AVX2_INLINE static V lowest() { return _mm256_set1_epi32(INT32_MIN); }
        MOESCOPE_AVX2_INLINE static V max(V a, V b) { return _mm256_max_epi32(a, b); }
        MOESCOPE_AVX2_INLINE static V min(V a, V b) { return _mm256_min_epi32(a, b); }
        MOESCOPE_AVX2_INLINE static V hmax(V v)
        {
            v = max(v, _mm256_permute2x128_si256(v, v, 1));
            v = max(v, _mm256_shuffle_epi32(v, 0x4e));
            return max(v, _mm256_shuffle_epi32(v, 0xb1));
        }
        MOESCOPE_AVX2_INLINE static Mask equal(V a, V b) { return _mm256_cmpeq_epi32(a, b); }
        MOESCOPE_AVX2_INLINE static V select(Mask m, V a, V b) { return _mm256_blendv_epi8(b, a, m); }
        MOESCOPE_AVX2_INLINE static Scalar first(V v) { return _mm_cvtsi128_si32(_mm256_castsi256_si128(v)); }
        MOESCOPE_AVX2_INLINE static int idOf(Scalar key) { return 0xffff - int(std::uint32_t(key) & 0xffffu); }
        MOESCOPE_AVX2_INLINE static float valueOf(Scalar key)
        {
            const auto o = std::int16_t(std::uint32_t(key) >> 16);
            const auto h = std::uint16_t(o ^ ((o >> 15) & 0x7fff));
            return _cvtsh_ss(h);
        }
        MOESCOPE_AVX2_INLINE static int registersFor(int E) { return 2 * ((E + 15) / 16); }
        // 2 registers per 16 halves (see SimdAvx512.h).
        MOESCOPE_AVX2_INLINE static int make(const std::uint16_t *row, int E, V *keys)
        {
            const __m256i negZero = _mm256_set1_epi16(std::int16_t(0x8000));
            const __m256i magnitude = _mm256_set1_epi16(0x7fff);
            const __m256i iota = _mm256_setr_epi16(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
            const __m256i idBase = _mm256_sub_epi16(_mm256_set1_epi16(-1), iota);
            int nk = 0;
            for (int b = 0; b < E; b += 16) {
                const int n = E - b < 16 ? E - b : 16;
                __m256i h;
                if (n >= 16) {
                    h = _mm256_loadu_si256(reinterpret_cast<const __m256i *>(row + b));
                } else {
                    alignas(32) std::uint16_t staged[16] = {};
                    for (int i = 0; i < n; ++i)
                        staged[i] = row[b + i];
                    h = _mm256_load_si256(reinterpret_cast<const __m256i *>(staged));
                }
                h = _mm256_andnot_si256(_mm256_cmpeq_epi16(h, negZero), h); // -0 -> +0
                __m256i o = _mm256_xor_si256(h, _mm256_and_si256(_mm256_srai_epi16(h, 15), magnitude));
                const __m256i in = _mm256_cmpgt_epi16(_mm256_set1_epi16(std::int16_t(n)), iota);
                o = _mm256_blendv_epi8(negZero, o, in);
                const __m256i id = _mm256_sub_epi16(idBase, _mm256_set1_epi16(std::int16_t(b)));
                keys[nk++] = _mm256_unpacklo_epi16(id, o);
                keys[nk++] = _mm256_unpackhi_epi16(id, o);
            }
            return nk;
        }
    };

    struct Keys64 {
        using V = __m256i;
        using Mask = __m256i;
        using Scalar = std::int64_t;
        MOESCOPE_AVX2_INLINE static V lowest() { return _mm256_set1_epi64x(INT64_MIN); }
        MOESCOPE_AVX2_INLINE static V max(V a, V b) { return _mm256_blendv_epi8(b, a, _mm256_cmpgt_epi64(a, b)); }
        MOESCOPE_AVX2_INLINE static V min(V a, V b) { return _mm256_blendv_epi8(a, b, _mm256_cmpgt_epi64(a, b)); }
        MOESCOPE_AVX2_INLINE static V hmax(V v)
        {
            v = max(v, _mm256_permute2x128_si256(v, v, 1));
            return max(v, _mm256_shuffle_epi32(v, 0x4e));
        }
        MOESCOPE_AVX2_INLINE static Mask equal(V a, V b) { return _mm256_cmpeq_epi64(a, b); }
        MOESCOPE_AVX2_INLINE static V select(Mask m, V a, V b) { return _mm256_blendv_epi8(b, a, m); }
        MOESCOPE_AVX2_INLINE static Scalar first(V v) { return _mm_cvtsi128_si64(_mm256_castsi256_si128(v)); }
        MOESCOPE_AVX2_INLINE static int idOf(Scalar key) { return int(0xffffffffu - std::uint32_t(key)); }
        MOESCOPE_AVX2_INLINE static float valueOf(Scalar key)
        {
            const auto o = std::int32_t(std::uint64_t(key) >> 32);
            const std::int32_t bits = o ^ ((o >> 31) & 0x7fffffff);
            float f;
            __builtin_memcpy(&f, &bits, sizeof f);
            return f;
        }
        MOESCOPE_AVX2_INLINE static int registersFor(int E) { return 2 * ((E + 7) / 8); }
        // 2 registers per 8 floats.
        MOESCOPE_AVX2_INLINE static int make(const float *row, int E, V *keys)
        {
            const __m256i idLow = _mm256_sub_epi64(_mm256_set1_epi64x(0xffffffffLL), _mm256_setr_epi64x(0, 1, 2, 3));
            int nk = 0;
            for (int b = 0; b < E; b += 8) {
                const int n = E - b < 8 ? E - b : 8;
                const __m256 x = _mm256_add_ps(load(row + b, n), _mm256_setzero_ps()); // -0 -> +0
                const __m256i bits = _mm256_castps_si256(x);
                __m256i o = _mm256_xor_si256(bits, _mm256_and_si256(_mm256_srai_epi32(bits, 31),
                                                                    _mm256_set1_epi32(0x7fffffff)));
                o = _mm256_blendv_epi8(_mm256_set1_epi32(INT32_MIN), o, lanes(n));
                const __m256i id = _mm256_sub_epi64(idLow, _mm256_set1_epi64x(b));
                const __m256i lo = _mm256_slli_epi64(_mm256_cvtepi32_epi64(_mm256_castsi256_si128(o)), 32);
                const __m256i hi = _mm256_slli_epi64(_mm256_cvtepi32_epi64(_mm256_extracti128_si256(o, 1)), 32);
                keys[nk++] = _mm256_or_si256(lo, id);
                keys[nk++] = _mm256_or_si256(hi, _mm256_sub_epi64(id, _mm256_set1_epi64x(4)));
            }
            return nk;
        }
    };
};

} // namespace moescope::simd
