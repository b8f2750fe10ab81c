// The AVX-512 kernel for float16 logits with k <= 8: rows in lanes. Included by
// CpuKernelAvx512.cpp after RowKernel.inl, whose block stages it shares.
//
// Why: RowKernel.inl takes a row's k best keys off its lanes one by one, and every
// step is a horizontal maximum across a register, a chain of shuffles. Here a block of
// 32 rows is transposed so that a register holds one expert's logits for 16 rows, one
// row per lane. Choosing then needs only vertical max/min: a sorting network on each
// group of D experts (D = k rounded up to a power of two) and a bitonic merge that
// keeps the running D best. No horizontal step remains, and the ranks come out sorted,
// best first, as the slot order needs.
//
// A block with NaN or infinity in any row, and the last rows of a job (fewer than
// 32), go to RowKernel.inl's row-by-row path; both paths give the same results.

constexpr int kLaneBlockRows = 32;   // rows per block: a register of 16-bit words
constexpr int kLaneMaxExperts = 256; // the transposed block lives on the stack
constexpr int kLaneMaxTopK = 8;
// The next block's rows are prefetched while this block's are chosen, a few lines per
// step and into L2 only: a block is a 4 KB page and the hardware prefetchers stop at
// page bounds, so without this every block waits for memory (42 -> 34 ns a row at
// E = 64, k = 8 on the development machine; all 64 lines at once, or into L1, or
// further ahead, measured slower).
constexpr int kPrefetchBlocks = 1;

// Order-preserving 16-bit keys of float16 bits: the value as a signed integer, -0 as
// +0 (equal numbers, so equal keys and the lower id wins).
KERNEL_INLINE __m512i orderedHalves(__m512i h)
{
    const __mmask32 negative = _mm512_movepi16_mask(h);
    return _mm512_mask_sub_epi16(h, negative, _mm512_set1_epi16(std::int16_t(0x8000)), h);
}

// The float16 bits of ordered keys held in the high half of 32-bit lanes.
KERNEL_INLINE __m256i halvesOfKeys(__m512i keys)
{
    const __m512i o = _mm512_srai_epi32(keys, 16);
    const __mmask16 negative = _mm512_movepi32_mask(o);
    return _mm512_cvtepi32_epi16(_mm512_mask_sub_epi32(o, negative, _mm512_set1_epi32(0x8000), o));
}

// 32 rows of E halves into cols[e * 32 + w] (ordered keys), word w holding row
// 4 * (w % 8) + w / 8. Returns whether a row holds NaN or infinity.
KERNEL_INLINE bool transposeBlock(const std::uint16_t *rows, int E, std::uint16_t *cols)
{
    __m512i lowest = _mm512_set1_epi16(0x7fff), highest = _mm512_set1_epi16(-0x7fff - 1);
    for (int c = 0; c * 8 < E; ++c) {
        const int n = E - c * 8 < 8 ? E - c * 8 : 8;
        const __mmask8 in = __mmask8((1u << n) - 1);
        // a[g], 128-bit lane L: halves 8c .. 8c + 7 of row 4g + L.
        __m512i a[8];
        const std::uint16_t *p = rows + c * 8;
#pragma GCC unroll 8
        for (int g = 0; g < 8; ++g) {
            __m128i q[4];
#pragma GCC unroll 4
            for (int L = 0; L < 4; ++L)
                q[L] = n == 8 ? _mm_loadu_si128(reinterpret_cast<const __m128i *>(p + L * std::size_t(E)))
                              : _mm_maskz_loadu_epi16(in, p + L * std::size_t(E));
            p += 4 * std::size_t(E);
            // Hides p's value from the optimiser, which would otherwise keep all 32 row
            // addresses of the block live across the loop and spill them.
            asm("" : "+r"(p));
            a[g] = _mm512_inserti32x4(_mm512_inserti32x4(_mm512_inserti32x4(_mm512_castsi128_si512(q[0]), q[1], 1),
                                                         q[2], 2),
                                      q[3], 3);
        }
        // An 8 x 8 transpose of words in every 128-bit lane: b[j], lane L, word g is
        // half 8c + j of row 4g + L.
        __m512i t[8], u[8], b[8];
#pragma GCC unroll 4
        for (int i = 0; i < 4; ++i) {
            t[2 * i] = _mm512_unpacklo_epi16(a[2 * i], a[2 * i + 1]);
            t[2 * i + 1] = _mm512_unpackhi_epi16(a[2 * i], a[2 * i + 1]);
        }
#pragma GCC unroll 2
        for (int i = 0; i < 2; ++i) {
            u[4 * i] = _mm512_unpacklo_epi32(t[4 * i], t[4 * i + 2]);
            u[4 * i + 1] = _mm512_unpackhi_epi32(t[4 * i], t[4 * i + 2]);
            u[4 * i + 2] = _mm512_unpacklo_epi32(t[4 * i + 1], t[4 * i + 3]);
            u[4 * i + 3] = _mm512_unpackhi_epi32(t[4 * i + 1], t[4 * i + 3]);
        }
#pragma GCC unroll 4
        for (int i = 0; i < 4; ++i) {
            b[2 * i] = _mm512_unpacklo_epi64(u[i], u[i + 4]);
            b[2 * i + 1] = _mm512_unpackhi_epi64(u[i], u[i + 4]);
        }
#pragma GCC unroll 8
        for (int j = 0; j < 8; ++j) {
            if (j >= n)
                break;
            const __m512i o = orderedHalves(b[j]);
            lowest = _mm512_min_epi16(lowest, o);
            highest = _mm512_max_epi16(highest, o);
            _mm512_store_si512(cols + (c * 8 + j) * 32, o);
        }
    }
    // +-infinity and NaN are the keys beyond +-0x7c00.
    return (_mm512_cmpge_epi16_mask(highest, _mm512_set1_epi16(0x7c00)) |
            _mm512_cmple_epi16_mask(lowest, _mm512_set1_epi16(-0x7c00))) != 0;
}

// A comparator of a descending network: a takes the larger key.
KERNEL_INLINE void orderPair(__m512i &a, __m512i &b)
{
    const __m512i hi = _mm512_max_epi32(a, b);
    b = _mm512_min_epi32(a, b);
    a = hi;
}

// Sorts D registers lane by lane, best first (optimal networks: 1, 5 and 19 comparators).
template <int D>
KERNEL_INLINE void sortGroup(__m512i *g)
{
    if constexpr (D == 2) {
        orderPair(g[0], g[1]);
    } else if constexpr (D == 4) {
        constexpr int net[][2] = {{0, 1}, {2, 3}, {0, 2}, {1, 3}, {1, 2}};
#pragma GCC unroll 5
        for (const auto &c : net)
            orderPair(g[c[0]], g[c[1]]);
    } else if constexpr (D == 8) {
        constexpr int net[][2] = {{0, 2}, {1, 3}, {4, 6}, {5, 7}, {0, 4}, {1, 5}, {2, 6}, {3, 7}, {0, 1}, {2, 3},
                                  {4, 5}, {6, 7}, {2, 4}, {3, 5}, {1, 4}, {3, 6}, {1, 2}, {3, 4}, {5, 6}};
#pragma GCC unroll 19
        for (const auto &c : net)
            orderPair(g[c[0]], g[c[1]]);
    }
}

// best = the D best of best and g, both sorted: the larger of best[i] and g[D-1-i]
// form a bitonic sequence holding the D best, which a bitonic merge sorts.
template <int D>
KERNEL_INLINE void mergeBest(__m512i *best, const __m512i *g)
{
#pragma GCC unroll 8
    for (int i = 0; i < D; ++i)
        best[i] = _mm512_max_epi32(best[i], g[D - 1 - i]);
#pragma GCC unroll 3
    for (int half = D / 2; half >= 1; half /= 2)
#pragma GCC unroll 8
        for (int i = 0; i < D; ++i)
            if ((i & half) == 0)
                orderPair(best[i], best[i + half]);
}

// The D best keys, best first, of 16 rows of the transposed block: its words 0-3 of
// every 128-bit lane (upper = false) or words 4-7 (upper = true). A key is the
// ordered half in the high 16 bits and 0xffff - expert id in the low 16 bits, so one
// integer comparison orders by value and then towards the lower id. Meanwhile the
// aheadLines cache lines from `ahead` are prefetched, spread over the groups.
template <int D>
KERNEL_INLINE void bestKeys(const std::uint16_t *cols, int E, bool upper, __m512i *best, const char *ahead,
                            std::size_t aheadLines)
{
    __m512i g[D];
    const std::size_t groups = std::size_t(E + D - 1) / D, per = (aheadLines + groups - 1) / groups;
    std::size_t line = 0;
    for (int e0 = 0; e0 < E; e0 += D) {
        for (std::size_t i = 0; i < per && line < aheadLines; ++i, ++line)
            __builtin_prefetch(ahead + 64 * line, 0, 1); // 1: prefetcht2
#pragma GCC unroll 8
        for (int i = 0; i < D; ++i) {
            const int e = e0 + i;
            if (e < E) {
                const __m512i x = _mm512_load_si512(cols + e * 32);
                const __m512i id = _mm512_set1_epi16(std::int16_t(0xffff - e));
                g[i] = upper ? _mm512_unpackhi_epi16(id, x) : _mm512_unpacklo_epi16(id, x);
            } else {
                g[i] = _mm512_set1_epi32(INT32_MIN); // below every real key
            }
        }
        sortGroup<D>(g);
        if (e0 == 0) {
#pragma GCC unroll 8
            for (int i = 0; i < D; ++i)
                best[i] = g[i];
        } else {
            mergeBest<D>(best, g);
        }
    }
}

// Row (within the 32) of lane q of a key register: lane q = 4L + i holds word i of
// 128-bit lane L (+ 4 when upper), and word w of lane L is row 4w + L.
KERNEL_INLINE int rowOfLane(int q, bool upper) { return 4 * ((q & 3) + (upper ? 4 : 0)) + (q >> 2); }

// Writes the k ids of each of 16 rows, best first, from best[s] (lane q: slot s of
// row rowOfLane(q)) to out (row-major). For k = D, whole rows go by register
// shuffles; other k (3, 5, 6, 7) go one by one.
template <int D>
KERNEL_INLINE void storeIds(const __m512i *best, int k, std::int32_t *out)
{
    __m512i id[D];
#pragma GCC unroll 8
    for (int s = 0; s < D; ++s) // 0xffff - the key's low half
        id[s] = _mm512_andnot_si512(best[s], _mm512_set1_epi32(0xffff));
    if (k != D) {
        alignas(64) std::int32_t ids[D][16];
#pragma GCC unroll 8
        for (int s = 0; s < D; ++s)
            _mm512_store_si512(ids[s], id[s]);
        for (int q = 0; q < 16; ++q)
            for (int s = 0; s < k; ++s)
                out[rowOfLane(q, false) * k + s] = ids[s][q];
        return;
    }
    if constexpr (D == 1) {
        const __m512i rows = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
        _mm512_storeu_si512(out, _mm512_permutexvar_epi32(rows, id[0]));
    } else if constexpr (D == 2) {
        // 64-bit element 2L holds lane 4L (row L), element 2L + 1 lane 4L + 1 (row 4 + L).
        const __m512i rows = _mm512_setr_epi64(0, 2, 4, 6, 1, 3, 5, 7);
        _mm512_storeu_si512(out, _mm512_permutexvar_epi64(rows, _mm512_unpacklo_epi32(id[0], id[1])));
        _mm512_storeu_si512(out + 16, _mm512_permutexvar_epi64(rows, _mm512_unpackhi_epi32(id[0], id[1])));
    } else {
        // b[j] (and b[4 + j] for slots 4-7), 128-bit lane L: slots 0-3 of lane 4L + j, row 4j + L.
        __m512i b[D];
#pragma GCC unroll 2
        for (int h = 0; h < D / 4; ++h) {
            const __m512i a0 = _mm512_unpacklo_epi32(id[4 * h], id[4 * h + 1]);
            const __m512i a1 = _mm512_unpackhi_epi32(id[4 * h], id[4 * h + 1]);
            const __m512i a2 = _mm512_unpacklo_epi32(id[4 * h + 2], id[4 * h + 3]);
            const __m512i a3 = _mm512_unpackhi_epi32(id[4 * h + 2], id[4 * h + 3]);
            b[4 * h] = _mm512_unpacklo_epi64(a0, a2);
            b[4 * h + 1] = _mm512_unpackhi_epi64(a0, a2);
            b[4 * h + 2] = _mm512_unpacklo_epi64(a1, a3);
            b[4 * h + 3] = _mm512_unpackhi_epi64(a1, a3);
        }
#pragma GCC unroll 4
        for (int j = 0; j < 4; ++j) {
            if constexpr (D == 4) { // rows 4j .. 4j + 3, whole
                _mm512_storeu_si512(out + 16 * j, b[j]);
            } else { // rows 4j, 4j + 1 and 4j + 2, 4j + 3: slots 0-3 then 4-7 of each
                const __m512i first2 = _mm512_setr_epi64(0, 1, 8, 9, 2, 3, 10, 11);
                const __m512i last2 = _mm512_setr_epi64(4, 5, 12, 13, 6, 7, 14, 15);
                _mm512_storeu_si512(out + 32 * j, _mm512_permutex2var_epi64(b[j], first2, b[4 + j]));
                _mm512_storeu_si512(out + 32 * j + 16, _mm512_permutex2var_epi64(b[j], last2, b[4 + j]));
            }
        }
    }
}

// Adds the block's expert counts. Expert e is chosen for a row when its key is at
// least the row's k-th key, that is its ordered half is above the k-th one or equal
// with a lower id. Comparing halves alone (32 rows in one instruction) is exact when
// no row has an unchosen expert tied with its k-th: then exactly 32k assignments
// pass. Otherwise the block is counted from its ids.
KERNEL_INLINE void countBlock(RowJob &job, const std::uint16_t *cols, __m512i kthLower, __m512i kthUpper,
                              const std::int32_t *ids)
{
    const int E = job.numExperts, k = job.topK;
    // The k-th halves in the words of the transposed block (packus keeps lanes' order).
    const __m512i kth = _mm512_packus_epi32(_mm512_srli_epi32(kthLower, 16), _mm512_srli_epi32(kthUpper, 16));
    std::int32_t passed[kLaneMaxExperts];
    int total = 0;
    for (int e = 0; e < E; ++e) {
        passed[e] = __builtin_popcount(_mm512_cmpge_epi16_mask(_mm512_load_si512(cols + e * 32), kth));
        total += passed[e];
    }
    if (total == kLaneBlockRows * k) {
        for (int e = 0; e < E; ++e)
            job.counts[e] += passed[e];
    } else {
        for (int i = 0; i < kLaneBlockRows * k; ++i)
            ++job.counts[ids[i]];
    }
}

// The softmax stage for the 16 rows from `first`, whose maxima come in the key
// registers' lane order (row 4 * (q % 4) + q / 4 in lane q).
KERNEL_INLINE void softmaxHalf(RowJob &job, std::size_t first, __m512 laneMax, float *block, int stride, int nv,
                               float *acc)
{
    const int E = job.numExperts;
    const std::uint16_t *halves = static_cast<const std::uint16_t *>(job.logits) + first * std::size_t(E);
    if (job.exactOutputs) { // they need each row as floats
        for (int u = 0; u < 16; ++u) {
            float *x = block + u * stride;
            for (int v = 0; v < nv; ++v)
                S::store(x + v * S::W, valuesOf(block, stride, halves, E, u, v));
            job.exactOutputs(job.exactContext, first + std::size_t(u), x,
                             job.ids + (first + std::size_t(u)) * std::size_t(job.topK));
        }
    }
    alignas(64) float rowMax[kBlockRows];
    const __m512i rows = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
    _mm512_store_ps(rowMax, _mm512_permutexvar_ps(rows, laneMax));
    // The rows' values straight from the halves, unless the block holds them already.
    addSoftmaxTerms(job, block, stride, nv, 16, rowMax, acc, job.exactOutputs ? nullptr : halves);
    flush(acc, job.probSum, E);
}

// Routes a block of 32 rows from first, already transposed into cols.
template <int D>
KERNEL_INLINE void routeBlock(RowJob &job, std::size_t first, const std::uint16_t *cols, float *block, int stride,
                              int nv, float *acc)
{
    const int E = job.numExperts, k = job.topK;
    std::int32_t *const ids = job.ids + first * std::size_t(k);
    __m512i lower[D], upper[D];
    const std::size_t blockBytes = kLaneBlockRows * std::size_t(E) * 2;
    const bool more = first + (kPrefetchBlocks + 1) * kLaneBlockRows <= job.end;
    const char *ahead = reinterpret_cast<const char *>(static_cast<const std::uint16_t *>(job.logits) +
                                                       (first + kPrefetchBlocks * kLaneBlockRows) * std::size_t(E));
    const std::size_t lines = more ? (blockBytes + 63) / 64 : 0;
    bestKeys<D>(cols, E, false, lower, ahead, lines / 2);
    storeIds<D>(lower, k, ids);
    bestKeys<D>(cols, E, true, upper, ahead + 64 * (lines / 2), lines - lines / 2);
    storeIds<D>(upper, k, ids + 16 * k);
    countBlock(job, cols, lower[k - 1], upper[k - 1], ids); // k <= D
    for (int i = 0; i < kLaneBlockRows; ++i)
        job.valid[first + std::size_t(i)] = 1;
    job.validRows += kLaneBlockRows;
    softmaxHalf(job, first, _mm512_cvtph_ps(halvesOfKeys(lower[0])), block, stride, nv, acc);
    softmaxHalf(job, first + 16, _mm512_cvtph_ps(halvesOfKeys(upper[0])), block, stride, nv, acc);
}

template <int D>
KERNEL_TARGET void routeHalvesInLanesWith(RowJob &job)
{
    const int E = job.numExperts;
    const int nv = (E + S::W - 1) / S::W;
    const int stride = nv * S::W;
    alignas(64) std::uint16_t cols[kLaneMaxExperts * kLaneBlockRows];
    alignas(64) float acc[kLaneMaxExperts + 64];
    for (int i = 0; i < stride; ++i)
        acc[i] = 0.0f;
    const std::uint16_t *chunk = static_cast<const std::uint16_t *>(job.logits);
    std::size_t first = job.begin;
    // The row-by-row path for [from, to): its own job, whose sums are added to ours.
    auto byRows = [&](std::size_t from, std::size_t to) {
        RowJob part = job;
        part.begin = from;
        part.end = to;
        part.zSquaredSum = 0;
        part.validRows = part.invalidRows = 0;
        routeRowsWith<std::uint16_t, typename S::Keys32>(part);
        job.zSquaredSum += part.zSquaredSum;
        job.validRows += part.validRows;
        job.invalidRows += part.invalidRows;
    };
    for (; first + kLaneBlockRows <= job.end; first += kLaneBlockRows) {
        if (transposeBlock(chunk + first * std::size_t(E), E, cols)) {
            byRows(first, first + kLaneBlockRows);
            continue;
        }
        routeBlock<D>(job, first, cols, job.scratch, stride, nv, acc);
    }
    if (first < job.end)
        byRows(first, job.end);
}

// Whether routeHalvesInLanes serves a job.
inline bool lanesServe(const RowJob &job)
{
    return job.halves && job.ids && job.topK <= kLaneMaxTopK && job.numExperts <= kLaneMaxExperts;
}

KERNEL_TARGET void routeHalvesInLanes(RowJob &job)
{
    const int k = job.topK;
    if (k == 1)
        routeHalvesInLanesWith<1>(job);
    else if (k == 2)
        routeHalvesInLanesWith<2>(job);
    else if (k <= 4)
        routeHalvesInLanesWith<4>(job);
    else
        routeHalvesInLanesWith<8>(job);
}
