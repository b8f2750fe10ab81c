#pragma once
// The AVX-512 (F, BW, DQ, VL) operations the vector row kernel (RowKernel.inl) is
// written against. Every function carries its target attribute, so this header can be
// included in a translation unit built for the baseline x86-64: nothing here runs
// unless the dispatcher saw these instructions on the processor.
//
// Keys: to compare logits exactly and break ties towards the lower expert id in one
// integer comparison, a logit becomes an order-preserving integer in the high bits
// and (max id - id) in the low bits. float16 logits fit a 32-bit key (16 lanes per
// register), float32 logits need 64 bits (8 lanes).
#include <immintrin.h>

#include <cstdint>

#define MOESCOPE_AVX512_TARGET "avx512f,avx512bw,avx512dq,avx512vl,avx2,avx,fma,f16c,bmi,bmi2,popcnt"
#define MOESCOPE_AVX512_INLINE __attribute__((target(MOESCOPE_AVX512_TARGET), always_inline)) inline

namespace moescope::simd {

struct Avx512 {
    static constexpr int W = 16;        // floats per register
    static constexpr int HalfBlock = 32; // halves turned into keys per step
    static constexpr int Registers = 32; // vector registers
    using F = __m512;

    MOESCOPE_AVX512_INLINE static __mmask16 lanes(int n) { return n >= 16 ? 0xffff : __mmask16((1u << n) - 1); }

    // n (1..16) values from p; the other lanes hold -inf. Reads nothing past p[n-1].
    MOESCOPE_AVX512_INLINE static F load(const float *p, int n)
    {
        if (n >= 16)
            return _mm512_loadu_ps(p);
        return _mm512_mask_loadu_ps(_mm512_set1_ps(-__builtin_inff()), lanes(n), p);
    }
    MOESCOPE_AVX512_INLINE static F load(const std::uint16_t *p, int n)
    {
        if (n >= 16)
            return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i *>(p)));
        const __m512 x = _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(lanes(n), p));
        return _mm512_mask_mov_ps(_mm512_set1_ps(-__builtin_inff()), lanes(n), x);
    }
    // Whether one of the first n lanes is NaN or infinite.
    MOESCOPE_AVX512_INLINE static bool nonFinite(F x, int n)
    {
        return _mm512_mask_fpclass_ps_mask(lanes(n), x, 0x99) != 0; // QNaN | SNaN | +inf | -inf
    }
    MOESCOPE_AVX512_INLINE static F set(float v) { return _mm512_set1_ps(v); }
    MOESCOPE_AVX512_INLINE static F zero() { return _mm512_setzero_ps(); }
    MOESCOPE_AVX512_INLINE static F add(F a, F b) { return _mm512_add_ps(a, b); }
    MOESCOPE_AVX512_INLINE static F sub(F a, F b) { return _mm512_sub_ps(a, b); }
    MOESCOPE_AVX512_INLINE static F fma(F a, F b, F c) { return _mm512_fmadd_ps(a, b, c); }
    MOESCOPE_AVX512_INLINE static F loadAligned(const float *p) { return _mm512_load_ps(p); }
    MOESCOPE_AVX512_INLINE static void store(float *p, F x) { _mm512_store_ps(p, x); }
    MOESCOPE_AVX512_INLINE static float sum(F x) { return _mm512_reduce_add_ps(x); }
    MOESCOPE_AVX512_INLINE static F vmax(F a, F b) { return _mm512_max_ps(a, b); }
    // sum() of 16 registers at once, t[16 * i ...]: out[i] = sum(t_i), each added in
    // exactly the order of _mm512_reduce_add_ps (so the same float), shuffles shared.
    MOESCOPE_AVX512_INLINE static void sum16(const float *t, float *out)
    {
        __m512 s[8], w[4], z[2];
        for (int i = 0; i < 8; ++i) { // lane j < 8: x[j] + x[j + 8], rows 2i (lanes 0-7) and 2i + 1 (8-15)
            const __m512 a = _mm512_load_ps(t + 32 * i), b = _mm512_load_ps(t + 32 * i + 16);
            s[i] = _mm512_add_ps(_mm512_shuffle_f32x4(a, b, _MM_SHUFFLE(3, 2, 3, 2)),
                                 _mm512_shuffle_f32x4(a, b, _MM_SHUFFLE(1, 0, 1, 0)));
        }
        for (int i = 0; i < 4; ++i) // block r: row 4i + r, lanes j < 4: its T3[j + 4] + T3[j]
            w[i] = _mm512_add_ps(_mm512_shuffle_f32x4(s[2 * i], s[2 * i + 1], _MM_SHUFFLE(3, 1, 3, 1)),
                                 _mm512_shuffle_f32x4(s[2 * i], s[2 * i + 1], _MM_SHUFFLE(2, 0, 2, 0)));
        for (int i = 0; i < 2; ++i) // block b: rows 8i + b (lanes 0, 1) and 8i + 4 + b (2, 3): T6[j] + T6[j + 2]
            z[i] = _mm512_add_ps(_mm512_shuffle_ps(w[2 * i], w[2 * i + 1], _MM_SHUFFLE(1, 0, 1, 0)),
                                 _mm512_shuffle_ps(w[2 * i], w[2 * i + 1], _MM_SHUFFLE(3, 2, 3, 2)));
        // Lane 4b + j: row b + 4j, T8[0] + T8[1].
        const __m512 r = _mm512_add_ps(_mm512_shuffle_ps(z[0], z[1], _MM_SHUFFLE(2, 0, 2, 0)),
                                       _mm512_shuffle_ps(z[0], z[1], _MM_SHUFFLE(3, 1, 3, 1)));
        const __m512i rows = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
        _mm512_store_ps(out, _mm512_permutexvar_ps(rows, r));
    }

    MOESCOPE_AVX512_INLINE static float largest(F x) { return _mm512_reduce_max_ps(x); }

    // e^(x - m) for x <= m: 2^t with t = (x - m) log2(e) = n + f, n = floor(t) and f
    // in [0, 1) (reduce), 2^f by a degree-6 polynomial (a fit of relative error, within
    // 1.1 ulp), times 2^n by scalef, which floors t itself (0 far below, and for
    // padding lanes: t = -inf gives f = 0). x - m first: float32 logits near the
    // largest float would overflow m log2(e).
    MOESCOPE_AVX512_INLINE static F expFrom(F x, F m)
    {
        const __m512 t = _mm512_mul_ps(_mm512_sub_ps(x, m), _mm512_set1_ps(1.44269504088896341f));
        const __m512 f = _mm512_reduce_ps(t, _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
        __m512 y = _mm512_set1_ps(2.1612920682e-4f);
        y = _mm512_fmadd_ps(y, f, _mm512_set1_ps(1.2467844645e-3f));
        y = _mm512_fmadd_ps(y, f, _mm512_set1_ps(9.6754515544e-3f));
        y = _mm512_fmadd_ps(y, f, _mm512_set1_ps(5.5485282093e-2f));
        y = _mm512_fmadd_ps(y, f, _mm512_set1_ps(2.4022930861e-1f));
        y = _mm512_fmadd_ps(y, f, _mm512_set1_ps(6.9314706326e-1f));
        y = _mm512_fmadd_ps(y, f, _mm512_set1_ps(1.0f));
        return _mm512_scalef_ps(y, t);
    }

    // ln x for positive normal x, within about 1 ulp of ln x (Cephes' logf polynomial).
    MOESCOPE_AVX512_INLINE static F log(F x)
    {
        __m512 f = _mm512_getmant_ps(x, _MM_MANT_NORM_1_2, _MM_MANT_SIGN_src); // [1, 2)
        __m512 e = _mm512_getexp_ps(x);
        // Centre the mantissa on 1: [sqrt(1/2), sqrt(2)).
        const __mmask16 high = _mm512_cmp_ps_mask(f, _mm512_set1_ps(1.41421356237f), _CMP_GT_OQ);
        f = _mm512_mask_mul_ps(f, high, f, _mm512_set1_ps(0.5f));
        e = _mm512_mask_add_ps(e, high, e, _mm512_set1_ps(1.0f));
        return logTail(_mm512_sub_ps(f, _mm512_set1_ps(1.0f)), e);
    }
    // ln(1 + r) + e ln 2 for r in [sqrt(1/2) - 1, sqrt(2) - 1].
    MOESCOPE_AVX512_INLINE static F logTail(F r, F e)
    {
        const __m512 z = _mm512_mul_ps(r, r);
        __m512 y = _mm512_set1_ps(7.0376836292e-2f);
        y = _mm512_fmadd_ps(y, r, _mm512_set1_ps(-1.1514610310e-1f));
        y = _mm512_fmadd_ps(y, r, _mm512_set1_ps(1.1676998740e-1f));
        y = _mm512_fmadd_ps(y, r, _mm512_set1_ps(-1.2420140846e-1f));
        y = _mm512_fmadd_ps(y, r, _mm512_set1_ps(1.4249322787e-1f));
        y = _mm512_fmadd_ps(y, r, _mm512_set1_ps(-1.6668057665e-1f));
        y = _mm512_fmadd_ps(y, r, _mm512_set1_ps(2.0000714765e-1f));
        y = _mm512_fmadd_ps(y, r, _mm512_set1_ps(-2.4999993993e-1f));
        y = _mm512_fmadd_ps(y, r, _mm512_set1_ps(3.3333331174e-1f));
        y = _mm512_mul_ps(_mm512_mul_ps(y, r), z);
        y = _mm512_fmadd_ps(e, _mm512_set1_ps(-2.12194440e-4f), y);
        y = _mm512_fmadd_ps(z, _mm512_set1_ps(-0.5f), y);
        return _mm512_fmadd_ps(e, _mm512_set1_ps(0.693359375f), _mm512_add_ps(r, y));
    }
    MOESCOPE_AVX512_INLINE static F div(F a, F b) { return _mm512_div_ps(a, b); }
    MOESCOPE_AVX512_INLINE static F loadUnaligned(const float *p) { return _mm512_loadu_ps(p); }

    // 32-bit keys of float16 logits: 16 lanes.
    struct Keys32 {
        using V = __m512i;
        using Mask = __mmask16;
        using Scalar = std::int32_t;
        MOESCOPE_AVX512_INLINE static V lowest() { return _mm512_set1_epi32(INT32_MIN); }
        MOESCOPE_AVX512_INLINE static V max(V a, V b) { return _mm512_max_epi32(a, b); }
        MOESCOPE_AVX512_INLINE static V min(V a, V b) { return _mm512_min_epi32(a, b); }
        // The largest lane, in every lane.
        MOESCOPE_AVX512_INLINE static V hmax(V v)
        {
            v = max(v, _mm512_shuffle_i32x4(v, v, _MM_SHUFFLE(1, 0, 3, 2)));
            v = max(v, _mm512_shuffle_i32x4(v, v, _MM_SHUFFLE(2, 3, 0, 1)));
            v = max(v, _mm512_shuffle_epi32(v, _MM_PERM_BADC));
            return max(v, _mm512_shuffle_epi32(v, _MM_PERM_CDAB));
        }
        MOESCOPE_AVX512_INLINE static Mask equal(V a, V b) { return _mm512_cmpeq_epi32_mask(a, b); }
        // m ? a : b, lane by lane.
        MOESCOPE_AVX512_INLINE static V select(Mask m, V a, V b) { return _mm512_mask_mov_epi32(b, m, a); }
        MOESCOPE_AVX512_INLINE static Scalar first(V v) { return _mm_cvtsi128_si32(_mm512_castsi512_si128(v)); }
        MOESCOPE_AVX512_INLINE static int idOf(Scalar key) { return 0xffff - int(std::uint32_t(key) & 0xffffu); }
        // The logit a key was made from.
        MOESCOPE_AVX512_INLINE static float valueOf(Scalar key)
        {
            const auto o = std::int16_t(std::uint32_t(key) >> 16);
            const auto h = std::uint16_t(o ^ ((o >> 15) & 0x7fff));
            return _cvtsh_ss(h);
        }

        MOESCOPE_AVX512_INLINE static int registersFor(int E) { return 2 * ((E + 31) / 32); }
        // Keys of a row of E halves; returns how many registers it filled (2 per 32
        // halves). Lanes past E get keys below every real one.
        MOESCOPE_AVX512_INLINE static int make(const std::uint16_t *row, int E, V *keys)
        {
            const __m512i negZero = _mm512_set1_epi16(std::int16_t(0x8000));
            const __m512i magnitude = _mm512_set1_epi16(0x7fff);
            // Word j: 0xffff - j, the tie-break part of expert j's key.
            const __m512i idBase = _mm512_sub_epi16(
                _mm512_set1_epi16(-1),
                _mm512_set_epi16(31, 30, 29, 28, 27, 26, 25, 24, 23, 22, 21, 20, 19, 18, 17, 16, 15, 14, 13, 12, 11,
                                 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0));
            int nk = 0;
            for (int b = 0; b < E; b += 32) {
                const int n = E - b < 32 ? E - b : 32;
                const __mmask32 in = n >= 32 ? 0xffffffffu : __mmask32((1u << n) - 1);
                __m512i h = n >= 32 ? _mm512_loadu_si512(row + b) : _mm512_maskz_loadu_epi16(in, row + b);
                // -0 equals +0 as a number: same key, so the lower id wins the tie.
                h = _mm512_mask_mov_epi16(h, _mm512_cmpeq_epi16_mask(h, negZero), _mm512_setzero_si512());
                __m512i o = _mm512_xor_si512(h, _mm512_and_si512(_mm512_srai_epi16(h, 15), magnitude));
                o = _mm512_mask_mov_epi16(negZero, in, o);
                const __m512i id = _mm512_sub_epi16(idBase, _mm512_set1_epi16(std::int16_t(b)));
                // Interleaving keeps each (value, id) pair together; lane order is free.
                keys[nk++] = _mm512_unpacklo_epi16(id, o);
                keys[nk++] = _mm512_unpackhi_epi16(id, o);
            }
            return nk;
        }
    };

    // 64-bit keys of float32 logits: 8 lanes.
    struct Keys64 {
        using V = __m512i;
        using Mask = __mmask8;
        using Scalar = std::int64_t;
        MOESCOPE_AVX512_INLINE static V lowest() { return _mm512_set1_epi64(INT64_MIN); }
        MOESCOPE_AVX512_INLINE static V max(V a, V b) { return _mm512_max_epi64(a, b); }
        MOESCOPE_AVX512_INLINE static V min(V a, V b) { return _mm512_min_epi64(a, b); }
        MOESCOPE_AVX512_INLINE static V hmax(V v)
        {
            v = max(v, _mm512_shuffle_i64x2(v, v, _MM_SHUFFLE(1, 0, 3, 2)));
            v = max(v, _mm512_shuffle_i64x2(v, v, _MM_SHUFFLE(2, 3, 0, 1)));
            return max(v, _mm512_shuffle_epi32(v, _MM_PERM_BADC));
        }
        MOESCOPE_AVX512_INLINE static Mask equal(V a, V b) { return _mm512_cmpeq_epi64_mask(a, b); }
        MOESCOPE_AVX512_INLINE static V select(Mask m, V a, V b) { return _mm512_mask_mov_epi64(b, m, a); }
        MOESCOPE_AVX512_INLINE static Scalar first(V v) { return _mm_cvtsi128_si64(_mm512_castsi512_si128(v)); }
        MOESCOPE_AVX512_INLINE static int idOf(Scalar key) { return int(0xffffffffu - std::uint32_t(key)); }
        MOESCOPE_AVX512_INLINE static float valueOf(Scalar key)
        {
            const auto o = std::int32_t(std::uint64_t(key) >> 32);
            const std::int32_t bits = o ^ ((o >> 31) & 0x7fffffff);
            float f;
            __builtin_memcpy(&f, &bits, sizeof f);
            return f;
        }

        MOESCOPE_AVX512_INLINE static int registersFor(int E) { return 2 * ((E + 15) / 16); }
        // Keys of a row of E floats; 2 registers per 16 floats.
        MOESCOPE_AVX512_INLINE static int make(const float *row, int E, V *keys)
        {
            const __m512i idLow = _mm512_sub_epi64(_mm512_set1_epi64(0xffffffffLL),
                                                   _mm512_set_epi64(7, 6, 5, 4, 3, 2, 1, 0));
            int nk = 0;
            for (int b = 0; b < E; b += 16) {
                const int n = E - b < 16 ? E - b : 16;
                // + 0.0f turns -0 into +0, so equal numbers get equal keys.
                const __m512 x = _mm512_add_ps(load(row + b, n), _mm512_setzero_ps());
                const __m512i bits = _mm512_castps_si512(x);
                __m512i o = _mm512_xor_si512(bits, _mm512_and_si512(_mm512_srai_epi32(bits, 31),
                                                                    _mm512_set1_epi32(0x7fffffff)));
                o = _mm512_mask_mov_epi32(_mm512_set1_epi32(INT32_MIN), lanes(n), o);
                const __m512i id = _mm512_sub_epi64(idLow, _mm512_set1_epi64(b));
                const __m512i lo = _mm512_slli_epi64(_mm512_cvtepi32_epi64(_mm512_castsi512_si256(o)), 32);
                const __m512i hi = _mm512_slli_epi64(_mm512_cvtepi32_epi64(_mm512_extracti64x4_epi64(o, 1)), 32);
                keys[nk++] = _mm512_or_si512(lo, id);
                keys[nk++] = _mm512_or_si512(hi, _mm512_sub_epi64(id, _mm512_set1_epi64(8)));
            }
            return nk;
        }
    };
};

} // namespace moescope::simd
