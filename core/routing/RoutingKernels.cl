// OpenCL C 1.2 kernels of the GPU routing backend (OpenClBackend.cpp). Embedded in the
// binary at build time. No fp16 arithmetic and no subgroups: float16 logits are loaded
// with vload_half and everything is computed in float.
//
// route_half / route_float: one fused pass per chunk. Work-item = row for scoring,
// bias, group-limited choice, top-k, gate weights and validity; the expert counts go
// to a work-group histogram in local memory first. Then work-item = expert column for
// the softmax sums of the group's rows (adjacent work-items read adjacent logits), so
// the host receives one partial sum per work-group and expert.
//
// sweep_capacity: every capacity factor at once from the admission ranks
// (CapacitySweep.h): work-item = token, work-group histograms per factor.
//
// co_activation / layer_transitions: the expert-pair matrices of stats/ExpertPairs.h.
// Work-items stride over the tokens and count into a work-group histogram in local
// memory, added to the global one at the end, or (when the host finds the histogram
// too big for local memory) straight into the global one.

// The limits and the bits of `flags` come from the host as -D build options
// (kernelBuildOptions in OpenClBackend.cpp), from the constants it decides by:
//   KMAX       largest k routed here; the host sends larger k to the CPU
//   GMAX       most expert groups
//   PAIR_KMAX  largest k of co_activation; the host counts larger k on the CPU
//   FLAG_*     the bits of route_half / route_float's `flags`
#if !defined(KMAX) || !defined(GMAX) || !defined(PAIR_KMAX) || !defined(FLAG_SIGMOID) || \
    !defined(FLAG_PROBABILITIES) || !defined(FLAG_BIAS) || !defined(FLAG_NORMALIZE) || !defined(FLAG_ROUTE) || \
    !defined(FLAG_WEIGHTS) || !defined(FLAG_GATE)
#error "built without the host's limits: pass kernelBuildOptions() (OpenClBackend.cpp)"
#endif

// Exactly one of zh, zf is non-null.
inline float logitAt(__global const half *zh, __global const float *zf, size_t i)
{
    return zh ? vload_half(i, zh) : zf[i];
}

// The score p[t, e] the rules turn a logit into (m, inv: the row's max and 1 / sum).
inline float scoreOf(float z, float m, float inv, int flags)
{
    if (flags & FLAG_PROBABILITIES)
        return z;
    if (flags & FLAG_SIGMOID)
        return 1.0f / (1.0f + exp(-z));
    return exp(z - m) * inv;
}

inline void routeRows(__global const half *zh, __global const float *zf, uint rows, int E, int k, int flags,
                      __global const float *bias, int groups, int groupsKept, float scale,
                      __global int *ids, __global float *weights, __global float *gate, __global uchar *valid,
                      __global uint *counts, __global float *probPartial, __global float *zPartial,
                      __global uint *validPartial, __local uint *hist, __local float *rowM, __local float *rowInv,
                      __local float *rowZ, __local uchar *rowOk)
{
    const uint lid = get_local_id(0), lsize = get_local_size(0);
    const uint r = get_global_id(0);
    const uint first = get_group_id(0) * lsize;
    for (int e = lid; e < E; e += lsize)
        hist[e] = 0;
    barrier(CLK_LOCAL_MEM_FENCE);

    int ok = 0;
    float m = 0.0f, inv = 1.0f, z2 = 0.0f;
    if (r < rows) {
        const size_t base = (size_t)r * (size_t)E;
        // A request beyond this build's arrays (the host never sends one) leaves every
        // row invalid rather than overrun them.
        ok = !(flags & FLAG_ROUTE) || (k <= KMAX && groups <= GMAX);
        m = -INFINITY;
        for (int e = 0; e < E; ++e) {
            const float v = logitAt(zh, zf, base + e);
            ok &= isfinite(v) ? 1 : 0;
            m = fmax(m, v);
        }
        if (ok && !(flags & FLAG_PROBABILITIES)) {
            float s = 0.0f;
            for (int e = 0; e < E; ++e)
                s += exp(logitAt(zh, zf, base + e) - m);
            inv = 1.0f / s;
            const float lse = m + log(s);
            z2 = lse * lse;
        }
        valid[r] = (uchar)ok;
        if (ok && (flags & FLAG_ROUTE)) {
            // Without bias and groups the experts are compared by raw logits: the
            // scoring is monotone, and raw values have no ties rounding invented.
            const int plain = !(flags & FLAG_BIAS) && groups <= 1;
            ulong eligible = ~(ulong)0; // by group
            const int size = groups > 1 ? E / groups : E;
            if (groups > 1) {
                // A group's score: the sum of its two best keys. The best groupsKept
                // groups (ties to the lower group) stay eligible.
                float groupScore[GMAX];
                for (int g = 0; g < groups; ++g) {
                    float a = -INFINITY, b = -INFINITY;
                    for (int e = g * size; e < (g + 1) * size; ++e) {
                        float key = scoreOf(logitAt(zh, zf, base + e), m, inv, flags);
                        if (flags & FLAG_BIAS)
                            key += bias[e];
                        if (key > a) {
                            b = a;
                            a = key;
                        } else if (key > b) {
                            b = key;
                        }
                    }
                    groupScore[g] = size == 1 ? a : a + b;
                }
                eligible = 0;
                for (int i = 0; i < groupsKept; ++i) {
                    int bestGroup = -1;
                    for (int g = 0; g < groups; ++g)
                        if (!(eligible & ((ulong)1 << g)) && (bestGroup < 0 || groupScore[g] > groupScore[bestGroup]))
                            bestGroup = g;
                    eligible |= (ulong)1 << bestGroup;
                }
            }
            float best[KMAX];
            int bestId[KMAX];
            int count = 0;
            for (int e = 0; e < E; ++e) {
                if (!(eligible & ((ulong)1 << (e / size))))
                    continue;
                const float z = logitAt(zh, zf, base + e);
                float key = plain ? z : scoreOf(z, m, inv, flags);
                if (!plain && (flags & FLAG_BIAS))
                    key += bias[e];
                if (count == k && !(key > best[k - 1]))
                    continue; // an equal key never displaces a lower id
                int pos = count < k ? count : k - 1;
                while (pos > 0 && key > best[pos - 1]) {
                    best[pos] = best[pos - 1];
                    bestId[pos] = bestId[pos - 1];
                    --pos;
                }
                best[pos] = key;
                bestId[pos] = e;
                if (count < k)
                    ++count;
            }
            float p[KMAX];
            float chosen = 0.0f;
            for (int i = 0; i < k; ++i) {
                ids[(size_t)r * k + i] = bestId[i];
                atomic_inc(&hist[bestId[i]]);
                p[i] = scoreOf(logitAt(zh, zf, base + bestId[i]), m, inv, flags);
                chosen += p[i];
            }
            if (flags & FLAG_GATE)
                for (int i = 0; i < k; ++i)
                    gate[(size_t)r * k + i] = p[i];
            if (flags & FLAG_WEIGHTS) {
                const float w = ((flags & FLAG_NORMALIZE) && chosen > 0.0f ? 1.0f / chosen : 1.0f) * scale;
                for (int i = 0; i < k; ++i)
                    weights[(size_t)r * k + i] = p[i] * w;
            }
        }
    }
    rowM[lid] = m;
    rowInv[lid] = inv;
    rowZ[lid] = ok ? z2 : 0.0f;
    rowOk[lid] = (uchar)ok;
    barrier(CLK_LOCAL_MEM_FENCE);

    // Column pass: softmax p of the group's valid rows, per expert.
    const uint groupRows = min(lsize, rows - first);
    const size_t partial = (size_t)get_group_id(0) * (size_t)E;
    for (int e = lid; e < E; e += lsize) {
        float acc = 0.0f;
        for (uint j = 0; j < groupRows; ++j) {
            if (!rowOk[j])
                continue;
            const float v = logitAt(zh, zf, (size_t)(first + j) * (size_t)E + e);
            acc += (flags & FLAG_PROBABILITIES) ? v : exp(v - rowM[j]) * rowInv[j];
        }
        probPartial[partial + e] = acc;
        if (hist[e])
            atomic_add(&counts[e], hist[e]);
    }
    if (lid == 0) {
        float zs = 0.0f;
        uint n = 0;
        for (uint j = 0; j < groupRows; ++j) {
            zs += rowZ[j];
            n += rowOk[j];
        }
        zPartial[get_group_id(0)] = zs;
        validPartial[get_group_id(0)] = n;
    }
}

__kernel void route_half(__global const half *z, uint rows, int E, int k, int flags, __global const float *bias,
                         int groups, int groupsKept, float scale, __global int *ids, __global float *weights,
                         __global float *gate, __global uchar *valid, __global uint *counts,
                         __global float *probPartial, __global float *zPartial, __global uint *validPartial,
                         __local uint *hist, __local float *rowM, __local float *rowInv, __local float *rowZ,
                         __local uchar *rowOk)
{
    routeRows(z, 0, rows, E, k, flags, bias, groups, groupsKept, scale, ids, weights, gate, valid, counts,
              probPartial, zPartial, validPartial, hist, rowM, rowInv, rowZ, rowOk);
}

__kernel void route_float(__global const float *z, uint rows, int E, int k, int flags, __global const float *bias,
                          int groups, int groupsKept, float scale, __global int *ids, __global float *weights,
                          __global float *gate, __global uchar *valid, __global uint *counts,
                          __global float *probPartial, __global float *zPartial, __global uint *validPartial,
                          __local uint *hist, __local float *rowM, __local float *rowInv, __local float *rowZ,
                          __local uchar *rowOk)
{
    routeRows(0, z, rows, E, k, flags, bias, groups, groupsKept, scale, ids, weights, gate, valid, counts,
              probPartial, zPartial, validPartial, hist, rowM, rowInv, rowZ, rowOk);
}

// Valid tokens [first, end) against the capacity factors [j0, j0 + count) of a table
// with `stride` factors per group: dropped[j - j0] += assignments with a rank >= C,
// fully[j - j0] += tokens whose best rank is >= C, C = capacity[group * stride + j].
__kernel void sweep_capacity(__global const int *ranks, __global const int *minRank, __global const int *group,
                             uint first, uint end, int k, __global const int *capacity, int stride, int j0,
                             int count, __global uint *dropped, __global uint *fully, __local uint *localDropped,
                             __local uint *localFully)
{
    const uint lid = get_local_id(0), lsize = get_local_size(0);
    for (int j = lid; j < count; j += lsize)
        localDropped[j] = localFully[j] = 0;
    barrier(CLK_LOCAL_MEM_FENCE);
    const uint t = first + get_global_id(0);
    if (t < end) {
        const size_t row = (size_t)group[t] * (size_t)stride + (size_t)j0;
        const int best = minRank[t];
        int worst = best;
        for (int s = 0; s < k; ++s)
            worst = max(worst, ranks[(size_t)t * k + s]);
        for (int j = 0; j < count; ++j) {
            const int C = capacity[row + j];
            if (worst < C)
                continue; // every assignment of this token fits
            uint d = 0;
            for (int s = 0; s < k; ++s)
                d += ranks[(size_t)t * k + s] >= C ? 1u : 0u;
            atomic_add(&localDropped[j], d);
            if (best >= C)
                atomic_inc(&localFully[j]);
        }
    }
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int j = lid; j < count; j += lsize) {
        if (localDropped[j])
            atomic_add(&dropped[j], localDropped[j]);
        if (localFully[j])
            atomic_add(&fully[j], localFully[j]);
    }
}

// One count into the work-group histogram or, without one, the global histogram.
inline void countBin(__local uint *hist, __global uint *pairs, int useLocal, uint bin)
{
    if (useLocal)
        atomic_inc(&hist[bin]);
    else
        atomic_inc(&pairs[bin]);
}

inline void clearHistogram(__local uint *hist, uint bins, int useLocal)
{
    if (!useLocal)
        return;
    for (uint i = get_local_id(0); i < bins; i += get_local_size(0))
        hist[i] = 0;
    barrier(CLK_LOCAL_MEM_FENCE);
}

// Adds the work-group histogram to the global one: one atomic per non-zero bin.
inline void flushHistogram(__local uint *hist, uint bins, int useLocal, __global uint *pairs)
{
    if (!useLocal)
        return;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (uint i = get_local_id(0); i < bins; i += get_local_size(0))
        if (hist[i])
            atomic_add(&pairs[i], hist[i]);
}

// The bin of experts lo <= hi in the upper triangle of an E x E matrix stored row by
// row: row lo starts after the E + (E - 1) + ... + (E - lo + 1) bins of the rows above.
inline uint triangleBin(uint lo, uint hi, uint E)
{
    return lo * (2 * E + 1 - lo) / 2 + (hi - lo);
}

// Valid tokens [0, tokens): every unordered pair of distinct experts a token chose,
// and each expert with itself, counted once into the packed upper triangle
// (E (E + 1) / 2 bins; the matrix is symmetric, so the host mirrors it). A repeated
// id counts once. An id outside [0, E) sets *bad and its token is skipped; k beyond
// PAIR_KMAX sets *bad and counts nothing.
__kernel void co_activation(uint tokens, int E, int useLocal, __global uint *pairs, __global uint *bad,
                            __local uint *hist, __global const int *ids, int k, __global const uchar *valid)
{
    if (k > PAIR_KMAX) { // beyond this build's array (the host never sends it): counted on the CPU
        if (get_global_id(0) == 0)
            atomic_or(bad, 1u);
        return;
    }
    const uint bins = (uint)E * (uint)(E + 1) / 2;
    clearHistogram(hist, bins, useLocal);
    for (uint t = get_global_id(0); t < tokens; t += get_global_size(0)) {
        if (!valid[t])
            continue;
        int set[PAIR_KMAX];
        int m = 0, ok = 1;
        for (int i = 0; i < k; ++i) {
            const int e = ids[(size_t)t * k + i];
            ok &= e >= 0 && e < E;
            int seen = 0;
            for (int j = 0; j < m; ++j)
                seen |= set[j] == e;
            if (!seen)
                set[m++] = e;
        }
        if (!ok) {
            atomic_or(bad, 1u);
            continue;
        }
        for (int i = 0; i < m; ++i)
            for (int j = i; j < m; ++j)
                countBin(hist, pairs, useLocal, triangleBin(min(set[i], set[j]), max(set[i], set[j]), E));
    }
    flushHistogram(hist, bins, useLocal, pairs);
}

// Tokens [0, tokens) valid at both layers: bin from * E + to of their best (first)
// experts. An id outside [0, E) sets *bad and its token is skipped.
__kernel void layer_transitions(uint tokens, int E, int useLocal, __global uint *pairs, __global uint *bad,
                                __local uint *hist, __global const int *fromIds, int fromK,
                                __global const uchar *fromValid, __global const int *toIds, int toK,
                                __global const uchar *toValid)
{
    const uint bins = (uint)E * (uint)E;
    clearHistogram(hist, bins, useLocal);
    for (uint t = get_global_id(0); t < tokens; t += get_global_size(0)) {
        if (!fromValid[t] || !toValid[t])
            continue;
        const int a = fromIds[(size_t)t * fromK], b = toIds[(size_t)t * toK];
        if (a < 0 || a >= E || b < 0 || b >= E) {
            atomic_or(bad, 1u);
            continue;
        }
        countBin(hist, pairs, useLocal, (uint)a * (uint)E + (uint)b);
    }
    flushHistogram(hist, bins, useLocal, pairs);
}
