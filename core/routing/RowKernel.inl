// The vector row kernel, written once against a SIMD layer. Included (inside an
// anonymous namespace) by CpuKernelAvx512.cpp and CpuKernelAvx2.cpp, which first
// define:
//   S                   the SIMD layer (simd::Avx512 or simd::Avx2)
//   KERNEL_TARGET       the target attribute of the functions defined here
//   KERNEL_INLINE       the same, plus always_inline
// It uses no standard-library templates: a function compiled for AVX-512 that the
// linker could merge with a baseline copy elsewhere would break older processors.
//
// One row at a time, in one pass over its logits:
//   1. load (float16 converted in registers), refuse NaN/infinity;
//   2. top-k by exact keys (SimdAvx512.h): each register lane keeps a sorted list of
//      its best min(k, registers) keys, then the k best are taken off the lane heads;
//   3. softmax terms: exp(z - max), the row sum, logsumexp^2 and p added to per-thread
//      float sums that are moved into double every kBlockRows rows;
//   4. expert counts.

constexpr int kBlockRows = 16; // also how often float sums move into double
// Rows whose selections run side by side; 4 divides kBlockRows.
constexpr int kInterleave = 4;
// Rows with up to this many key registers select interleaved; wider rows one by one.
constexpr int kInterleaveKeys = 32;
// Key registers a row of kMaxExperts logits can need: 2 per S::W logits at most.
constexpr int kMaxKeyRegisters = 2 * (kMaxExperts / S::W) + 2;
constexpr int kMaxFloats = kMaxExperts + 64;
// Rows are prefetched this far ahead (the hardware prefetcher alone leaves the row
// loads waiting for memory: about a third of the time of a row on a Xeon).
constexpr std::size_t kPrefetchRows = 8;

// The k best keys of nk registers, best first, written as expert ids; returns the
// best key. Lists[d] is, lane by lane, the d-th best key the lane has seen. No lane can
// hold more than nk of the k best, so Depth = min(k, nk) levels suffice. Depth is a
// template argument so the lists stay in registers: taking the k best is a chain of
// dependent steps, and a round trip through memory on every step doubles its length.
template <class K, int Depth>
KERNEL_INLINE typename K::Scalar selectTopKFixed(const typename K::V *keys, int nk, int k, std::int32_t *ids)
{
    typename K::V lists[Depth];
    for (int d = 0; d < Depth; ++d)
        lists[d] = K::lowest();
    for (int j = 0; j < nk; ++j) {
        typename K::V v = keys[j];
        for (int d = 0; d < Depth; ++d) { // keys are unique: max/min is an exact insertion
            const typename K::V hi = K::max(lists[d], v);
            v = K::min(lists[d], v);
            lists[d] = hi;
        }
    }
    typename K::Scalar best = 0;
    for (int i = 0; i < k; ++i) {
        const typename K::V top = K::hmax(lists[0]);
        const typename K::Scalar key = K::first(top);
        if (i == 0)
            best = key;
        ids[i] = K::idOf(key);
        const typename K::Mask lane = K::equal(lists[0], top);
        for (int d = 0; d + 1 < Depth; ++d)
            lists[d] = K::select(lane, lists[d + 1], lists[d]);
        lists[Depth - 1] = K::select(lane, K::lowest(), lists[Depth - 1]);
    }
    return best;
}

template <class K>
KERNEL_INLINE typename K::Scalar selectTopKAny(const typename K::V *keys, int nk, int k, std::int32_t *ids);

// selectTopKFixed for Rows rows at once, interleaved: each row's selection is a chain
// of dependent steps, and independent chains side by side keep the vector units busy.
template <class K, int Depth, int Rows>
KERNEL_INLINE void selectTopKRows(const typename K::V *keys, int keysPerRow, int nk, int k, std::int32_t *const *ids,
                                  typename K::Scalar *best)
{
    typename K::V lists[Rows][Depth];
    for (int r = 0; r < Rows; ++r)
        for (int d = 0; d < Depth; ++d)
            lists[r][d] = K::lowest();
    for (int j = 0; j < nk; ++j)
        for (int r = 0; r < Rows; ++r) {
            typename K::V v = keys[r * keysPerRow + j];
            for (int d = 0; d < Depth; ++d) {
                if (d == j) { // the first j keys fill levels 0 .. j-1; v ends here
                    lists[r][d] = v;
                    break;
                }
                const typename K::V hi = K::max(lists[r][d], v);
                v = K::min(lists[r][d], v);
                lists[r][d] = hi;
            }
        }
    for (int i = 0; i < k; ++i)
        for (int r = 0; r < Rows; ++r) {
            const typename K::V top = K::hmax(lists[r][0]);
            const typename K::Scalar key = K::first(top);
            if (i == 0)
                best[r] = key;
            ids[r][i] = K::idOf(key);
            if (i + 1 < k) { // after the last key taken, nothing to pop
                const typename K::Mask lane = K::equal(lists[r][0], top);
                for (int d = 0; d + 1 < Depth; ++d)
                    lists[r][d] = K::select(lane, lists[r][d + 1], lists[r][d]);
                lists[r][Depth - 1] = K::select(lane, K::lowest(), lists[r][Depth - 1]);
            }
        }
}

// How many rows select together at a depth: as many as half the registers hold,
// rounded down to a divisor of kInterleave (4, 2 or 1).
template <int Depth>
constexpr int rowsAtDepth()
{
    constexpr int fit = S::Registers / 2 / Depth;
    return fit >= 4 ? 4 : fit >= 2 ? 2 : 1;
}
static_assert(kInterleave == 4, "rowsAtDepth() returns divisors of 4");

// Selects for kInterleave rows (unused slots repeat row 0 into a throw-away id array).
template <class K, int Depth>
KERNEL_INLINE void selectTopKGroup(const typename K::V *keys, int keysPerRow, int nk, int k, std::int32_t *const *ids,
                                   typename K::Scalar *best)
{
    constexpr int R = rowsAtDepth<Depth>();
    for (int r = 0; r < kInterleave; r += R)
        selectTopKRows<K, Depth, R>(keys + r * keysPerRow, keysPerRow, nk, k, ids + r, best + r);
}

template <class K>
KERNEL_INLINE void selectTopKMany(const typename K::V *keys, int keysPerRow, int nk, int k, std::int32_t *const *ids,
                                  typename K::Scalar *best)
{
    switch (k < nk ? k : nk) {
    case 1: return selectTopKGroup<K, 1>(keys, keysPerRow, nk, k, ids, best);
    case 2: return selectTopKGroup<K, 2>(keys, keysPerRow, nk, k, ids, best);
    case 3: return selectTopKGroup<K, 3>(keys, keysPerRow, nk, k, ids, best);
    case 4: return selectTopKGroup<K, 4>(keys, keysPerRow, nk, k, ids, best);
    case 5: return selectTopKGroup<K, 5>(keys, keysPerRow, nk, k, ids, best);
    case 6: return selectTopKGroup<K, 6>(keys, keysPerRow, nk, k, ids, best);
    case 7: return selectTopKGroup<K, 7>(keys, keysPerRow, nk, k, ids, best);
    case 8: return selectTopKGroup<K, 8>(keys, keysPerRow, nk, k, ids, best);
    default:
        for (int r = 0; r < kInterleave; ++r)
            best[r] = selectTopKAny<K>(keys + r * keysPerRow, nk, k, ids[r]);
    }
}

// Any depth up to kMaxTopK; the lists live in memory.
template <class K>
KERNEL_INLINE typename K::Scalar selectTopKAny(const typename K::V *keys, int nk, int k, std::int32_t *ids)
{
    typename K::V lists[kMaxTopK];
    const int depth = k < nk ? k : nk;
    for (int d = 0; d < depth; ++d)
        lists[d] = K::lowest();
    for (int j = 0; j < nk; ++j) {
        typename K::V v = keys[j];
        for (int d = 0; d < depth; ++d) {
            const typename K::V hi = K::max(lists[d], v);
            v = K::min(lists[d], v);
            lists[d] = hi;
        }
    }
    typename K::Scalar best = 0;
    for (int i = 0; i < k; ++i) {
        const typename K::V top = K::hmax(lists[0]);
        const typename K::Scalar key = K::first(top);
        if (i == 0)
            best = key;
        ids[i] = K::idOf(key);
        const typename K::Mask lane = K::equal(lists[0], top);
        for (int d = 0; d + 1 < depth; ++d)
            lists[d] = K::select(lane, lists[d + 1], lists[d]);
        lists[depth - 1] = K::select(lane, K::lowest(), lists[depth - 1]);
    }
    return best;
}

template <class K>
KERNEL_INLINE typename K::Scalar selectTopK(const typename K::V *keys, int nk, int k, std::int32_t *ids)
{
    switch (k < nk ? k : nk) {
    case 1: return selectTopKFixed<K, 1>(keys, nk, k, ids);
    case 2: return selectTopKFixed<K, 2>(keys, nk, k, ids);
    case 3: return selectTopKFixed<K, 3>(keys, nk, k, ids);
    case 4: return selectTopKFixed<K, 4>(keys, nk, k, ids);
    case 5: return selectTopKFixed<K, 5>(keys, nk, k, ids);
    case 6: return selectTopKFixed<K, 6>(keys, nk, k, ids);
    case 7: return selectTopKFixed<K, 7>(keys, nk, k, ids);
    case 8: return selectTopKFixed<K, 8>(keys, nk, k, ids);
    default: return selectTopKAny<K>(keys, nk, k, ids);
    }
}

// Whether the SIMD layer adds 16 rows' registers at once (AVX-512 does).
template <class T>
concept HasSum16 = requires(const float *t, float *o) { T::sum16(t, o); };
template <class T>
KERNEL_INLINE void sum16Of(const float *t, float *out)
{
    if constexpr (HasSum16<T>)
        T::sum16(t, out);
}

KERNEL_INLINE void flush(float *acc, double *probSum, int E)
{
    for (int e = 0; e < E; ++e) {
        probSum[e] += double(acc[e]);
        acc[e] = 0.0f;
    }
}

// Counts and (when asked) exact weights of a row whose choices are made.
KERNEL_INLINE void finishRow(RowJob &job, std::size_t r, const float *x, const std::int32_t *ids)
{
    for (int j = 0; j < job.topK; ++j)
        ++job.counts[ids[j]];
    if (job.exactOutputs)
        job.exactOutputs(job.exactContext, r, x, ids);
}

// Values v * W .. v * W + W - 1 of row u: from the halves when given, else from the block.
KERNEL_INLINE typename S::F valuesOf(const float *block, int stride, const std::uint16_t *halves, int E, int u, int v)
{
    if (halves)
        return S::load(halves + std::size_t(u) * std::size_t(E) + std::size_t(v * S::W),
                       E - v * S::W < S::W ? E - v * S::W : S::W);
    return S::loadAligned(block + u * stride + v * S::W);
}

// The softmax terms of the `used` rows packed in `block` (stride floats apart), whose
// largest logits are rowMax[u]: p added to acc, logsumexp^2 to the job's z sum. With
// probability inputs, the values themselves are added. The block's values are
// overwritten. The row sums, logs and reciprocals of a block take one vector
// operation each. With `halves`, the rows are read from there (E halves apart)
// instead, and `block` only holds the exponentials.
KERNEL_INLINE void addSoftmaxTerms(RowJob &job, float *block, int stride, int nv, int used, const float *rowMax,
                                   float *acc, const std::uint16_t *halves = nullptr)
{
    const int E = job.numExperts;
    alignas(64) float rowSum[kBlockRows], logs[kBlockRows], invs[kBlockRows];
    alignas(64) float totals[kBlockRows * S::W]; // the rows' exp sums before the horizontal add
    if (job.probabilities) {
        // Padding lanes hold -inf; they are never moved into probSum.
        for (int u = 0; u < used; ++u)
            for (int v = 0; v < nv; ++v)
                S::store(acc + v * S::W, S::add(S::loadAligned(acc + v * S::W), valuesOf(block, stride, halves, E, u, v)));
    } else if (used > 0) {
        constexpr bool together = HasSum16<S> && kBlockRows == 16;
        for (int u = 0; u < used; ++u) {
            float *x = block + u * stride;
            const typename S::F m = S::set(rowMax[u]);
            typename S::F total = S::zero();
            for (int v = 0; v < nv; ++v) {
                const typename S::F e = S::expFrom(valuesOf(block, stride, halves, E, u, v), m);
                S::store(x + v * S::W, e);
                total = S::add(total, e);
            }
            if constexpr (together)
                S::store(totals + u * S::W, total);
            else
                rowSum[u] = S::sum(total); // >= 1: the largest logit gives exp(0)
        }
        if constexpr (together) { // the 16 row sums in one go
            for (int u = used; u < kBlockRows; ++u)
                S::store(totals + u * S::W, S::zero());
            sum16Of<S>(totals, rowSum);
        }
        for (int u = used; u < kBlockRows; ++u)
            rowSum[u] = 1.0f;
        for (int i = 0; i < kBlockRows; i += S::W) {
            const typename S::F sums = S::loadAligned(rowSum + i);
            S::store(logs + i, S::log(sums));
            S::store(invs + i, S::div(S::set(1.0f), sums));
        }
        double zSum = 0; // a local: the job's field would be stored and reloaded every row
        for (int u = 0; u < used; ++u) {
            const double lse = double(rowMax[u]) + double(logs[u]);
            zSum += lse * lse;
        }
        job.zSquaredSum += zSum;
        // Column by column, so each register of sums stays in a register over the rows
        // (the same additions in the same order as row by row).
        for (int v = 0; v < nv; ++v) {
            typename S::F sum = S::loadAligned(acc + v * S::W);
            for (int u = 0; u < used; ++u)
                sum = S::fma(S::loadAligned(block + u * stride + v * S::W), S::set(invs[u]), sum);
            S::store(acc + v * S::W, sum);
        }
    }
}

// In: std::uint16_t (float16 bits) or float; K: the key layer for it. Rows go in
// blocks of kBlockRows, stage by stage, so the independent rows of a block overlap in
// the processor and the block's logs and reciprocals take one vector operation.
template <class In, class K>
KERNEL_TARGET void routeRowsWith(RowJob &job)
{
    const int E = job.numExperts, k = job.topK;
    const int nv = (E + S::W - 1) / S::W;
    const int stride = nv * S::W; // floats per row in the block buffer
    float *const block = job.scratch;
    alignas(64) float acc[kMaxFloats];
    const int nk = K::registersFor(E);
    const bool interleaved = nk <= kInterleaveKeys;
    // One row's keys, or kInterleave rows' keys side by side when rows are narrow.
    alignas(64) typename K::V keys[kMaxKeyRegisters > kInterleave * kInterleaveKeys ? kMaxKeyRegisters
                                                                                  : kInterleave * kInterleaveKeys];
    alignas(64) float rowMax[kBlockRows];
    std::int32_t spareIds[kInterleave * kMaxTopK];
    for (int i = 0; i < stride; ++i)
        acc[i] = 0.0f;
    const In *chunk = static_cast<const In *>(job.logits);

    for (std::size_t first = job.begin; first < job.end; first += kBlockRows) {
        const int n = job.end - first < std::size_t(kBlockRows) ? int(job.end - first) : kBlockRows;
        int used = 0; // valid rows of the block, packed at the front of `block`
        int waiting = 0; // valid rows whose keys wait for an interleaved selection
        std::int32_t *waitingIds[kInterleave];
        int waitingSlot[kInterleave];
        for (int i = 0; i < n; ++i) {
            const std::size_t r = first + std::size_t(i);
            const In *row = chunk + r * std::size_t(E);
            float *x = block + used * stride;
            if (r + kPrefetchRows < job.end) { // the loads of a row should not wait for memory
                const char *ahead = reinterpret_cast<const char *>(row + kPrefetchRows * std::size_t(E));
                for (std::size_t b = 0; b < std::size_t(E) * sizeof(In); b += 64)
                    __builtin_prefetch(ahead + b);
            }
            bool bad = false;
            typename S::F top = S::set(-__builtin_inff());
            for (int v = 0; v < nv; ++v) {
                const int lanes = E - v * S::W < S::W ? E - v * S::W : S::W;
                const typename S::F xv = S::load(row + v * S::W, lanes);
                bad |= S::nonFinite(xv, lanes);
                top = S::vmax(top, xv);
                S::store(x + v * S::W, xv);
            }
            if (bad) {
                job.valid[r] = 0;
                ++job.invalidRows;
            } else {
                job.valid[r] = 1;
                ++job.validRows;
                if (!job.ids) {
                    rowMax[used] = S::largest(top);
                } else if (interleaved) {
                    K::make(row, E, keys + waiting * nk);
                    waitingIds[waiting] = job.ids + r * std::size_t(k);
                    waitingSlot[waiting++] = used;
                } else {
                    std::int32_t *ids = job.ids + r * std::size_t(k);
                    rowMax[used] = K::valueOf(selectTopK<K>(keys, K::make(row, E, keys), k, ids));
                    finishRow(job, r, x, ids);
                }
                ++used;
            }
            // Select once kInterleave rows wait, or at the end of the block.
            if (waiting > 0 && (waiting == kInterleave || i + 1 == n)) {
                for (int w = waiting; w < kInterleave; ++w) { // fill: repeat the first row
                    for (int j = 0; j < nk; ++j)
                        keys[w * nk + j] = keys[j];
                    waitingIds[w] = spareIds + (w - waiting) * kMaxTopK;
                }
                typename K::Scalar best[kInterleave];
                selectTopKMany<K>(keys, nk, nk, k, waitingIds, best);
                for (int w = 0; w < waiting; ++w) {
                    const int u = waitingSlot[w];
                    rowMax[u] = K::valueOf(best[w]); // the best key is the row's max
                    const std::size_t rw = std::size_t(waitingIds[w] - job.ids) / std::size_t(k);
                    finishRow(job, rw, block + u * stride, waitingIds[w]);
                }
                waiting = 0;
            }
        }

        addSoftmaxTerms(job, block, stride, nv, used, rowMax, acc);
        flush(acc, job.probSum, E);
    }
}

KERNEL_TARGET void routeRows(RowJob &job)
{
    if (job.halves)
        routeRowsWith<std::uint16_t, typename S::Keys32>(job);
    else
        routeRowsWith<float, typename S::Keys64>(job);
}
