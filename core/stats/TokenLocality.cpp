#include "stats/TokenLocality.h"

#include "common/ReusedBuffer.h"

#include <algorithm>
#include <limits>

#if defined(__x86_64__) || defined(__i386__)
#include "common/CpuFeatures.h"

#include <immintrin.h>
#define MOESCOPE_LOCALITY_AVX2 1
#endif

namespace moescope {

namespace {
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

double share(std::int64_t part, std::int64_t whole)
{
    return whole ? double(part) / double(whole) : kNaN;
}
} // namespace

bool expertSetsMeet(const std::int32_t *a, const std::int32_t *b, int k)
{
    for (int i = 0; i < k; ++i)
        if (std::find(b, b + k, a[i]) != b + k)
            return true;
    return false;
}

double uniformAnyChoiceChance(int numExperts, int topK)
{
    // C(E - k, k) / C(E, k) = prod_{i < k} (E - k - i) / (E - i); zero once E - k < k.
    double miss = 1;
    for (int i = 0; i < topK; ++i)
        miss *= std::max(0, numExperts - topK - i) / double(numExperts - i);
    return 1 - miss;
}

namespace {

// A row's experts as one bit each (E <= 64): "the sets meet" is then one AND. Made
// from the rows a block at a time rather than kept for every token: a T-long mask
// array was 8 bytes a token to allocate, zero and fault in for every layer, three
// times the cost of the loops that use it.
std::uint64_t maskOf(const std::int32_t *row, int k)
{
    std::uint64_t m = 0;
    for (int i = 0; i < k; ++i)
        m |= std::uint64_t(1) << row[i];
    return m;
}

constexpr std::int64_t kMaskBlock = 1024;

#ifdef MOESCOPE_LOCALITY_AVX2
// Above 64 experts with k = 8 (DeepSeek-V3: 256 experts, top-8) a row is one AVX2
// register, and "the sets meet" is a against b and b's 7 rotations: 8 compares with no
// memory in between. The marks below cost a store and a dependent load per choice.
bool processorHasAvx2()
{
    return cpuHasAvx2();
}

// Over t in [from, end), the pairs (t, t + gap) with both tokens valid, and those of
// them whose expert sets meet.
__attribute__((target("avx2"))) void meetingRows8(const std::int32_t *ids, const std::uint8_t *valid,
                                                  std::int64_t from, std::int64_t end, std::int64_t gap,
                                                  std::int64_t &pairs, std::int64_t &meets)
{
    __m256i rotation[7];
    for (int r = 1; r <= 7; ++r)
        rotation[r - 1] = _mm256_setr_epi32(r % 8, (r + 1) % 8, (r + 2) % 8, (r + 3) % 8, (r + 4) % 8,
                                            (r + 5) % 8, (r + 6) % 8, (r + 7) % 8);
    std::int64_t p = 0, m = 0;
    for (std::int64_t t = from; t < end; ++t) {
        if (!valid[t] || !valid[t + gap])
            continue;
        const __m256i a = _mm256_loadu_si256(reinterpret_cast<const __m256i *>(ids + t * 8));
        const __m256i b = _mm256_loadu_si256(reinterpret_cast<const __m256i *>(ids + (t + gap) * 8));
        __m256i same = _mm256_cmpeq_epi32(a, b);
        for (const __m256i &r : rotation)
            same = _mm256_or_si256(same, _mm256_cmpeq_epi32(a, _mm256_permutevar8x32_epi32(b, r)));
        ++p;
        m += !_mm256_testz_si256(same, same);
    }
    pairs += p;
    meets += m;
}
#else
bool processorHasAvx2()
{
    return false;
}
void meetingRows8(const std::int32_t *, const std::uint8_t *, std::int64_t, std::int64_t, std::int64_t,
                  std::int64_t &, std::int64_t &)
{
}
#endif

// Masks of the rows [from, from + n) into `out`.
void masksOf(const std::int32_t *ids, int k, std::int64_t from, std::int64_t n, std::uint64_t *out)
{
    const std::int32_t *row = ids + from * k;
    if (k == 8) // the usual k, unrolled
        for (std::int64_t i = 0; i < n; ++i, row += 8)
            out[i] = maskOf(row, 8);
    else
        for (std::int64_t i = 0; i < n; ++i, row += k)
            out[i] = maskOf(row, k);
}

// The positions where a pair (t, t + 1) is cut, sorted: 0, T and every sequence start
// in between. Pairs are counted within the segments between them.
std::vector<std::int64_t> segmentBounds(const std::vector<std::int64_t> &offsets, std::int64_t T)
{
    std::vector<std::int64_t> bounds{0, T};
    for (std::int64_t o : offsets)
        if (o > 0 && o < T)
            bounds.push_back(o);
    std::sort(bounds.begin(), bounds.end());
    bounds.erase(std::unique(bounds.begin(), bounds.end()), bounds.end());
    return bounds;
}

} // namespace

TokenLocality tokenLocality(const LayerChoices &c, const std::vector<std::int64_t> &offsets)
{
    const int k = c.topK, E = c.numExperts;
    const std::int64_t T = c.numPositions();
    TokenLocality r;
    r.hasAny = k >= 2;
    r.firstUniform = E > 0 ? 1.0 / E : kNaN;
    r.anyUniform = r.hasAny ? uniformAnyChoiceChance(E, k) : kNaN;

    const std::int32_t *ids = c.ids.data();
    const std::uint8_t *valid = c.valid.data();
    const bool masks = r.hasAny && E <= 64;
    const bool vector8 = r.hasAny && !masks && k == 8 && processorHasAvx2();
    // Above 64 experts: mark a's experts with a's position, then look up b's (2k steps
    // rather than k^2 compares; a mark equal to a always means "in a's set").
    std::vector<std::int64_t> markOf(!masks && r.hasAny ? std::size_t(E) : 0, -1);
    auto marksMeet = [&](std::int64_t a, std::int64_t b) {
        const std::int32_t *ra = ids + a * k, *rb = ids + b * k;
        std::int64_t *mark = markOf.data();
        for (int i = 0; i < k; ++i)
            mark[ra[i]] = a;
        bool met = false;
        for (int i = 0; i < k; ++i)
            met |= mark[rb[i]] == a;
        return met;
    };

    // Up to 64 experts, each row's set as a bit mask, made once for both kinds of pair
    // (a row meets its neighbour and its partner half the dump away).
    ReusedBuffer maskBuffer;
    std::uint64_t *setMask = nullptr;
    if (masks) {
        setMask = static_cast<std::uint64_t *>(maskBuffer.reserve(std::size_t(T) * sizeof(std::uint64_t)));
        masksOf(ids, k, 0, T, setMask);
    }

    // Consecutive pairs never cross a sequence boundary.
    std::int64_t sameFirst = 0, meet = 0;
    const std::vector<std::int64_t> bounds = segmentBounds(offsets, T);
    for (std::size_t s = 0; s + 1 < bounds.size(); ++s) {
        for (std::int64_t from = bounds[s], to = bounds[s + 1]; from + 1 < to; from += kMaskBlock) {
            const std::int64_t end = std::min(from + kMaskBlock, to - 1); // pairs (t, t + 1), t < end
            if (vector8) {
                std::int64_t pairs = 0;
                meetingRows8(ids, valid, from, end, 1, pairs, meet);
                r.pairs += pairs;
                for (std::int64_t t = from; t < end; ++t)
                    sameFirst += valid[t] && valid[t + 1] && ids[t * k] == ids[(t + 1) * k];
                continue;
            }
            for (std::int64_t t = from; t < end; ++t) {
                if (!valid[t] || !valid[t + 1])
                    continue;
                const std::int32_t *a = ids + t * k, *b = a + k;
                ++r.pairs;
                sameFirst += a[0] == b[0];
                if (masks)
                    meet += (setMask[t] & setMask[t + 1]) != 0;
                else if (r.hasAny)
                    meet += marksMeet(t, t + 1);
            }
        }
    }
    r.first = share(sameFirst, r.pairs);
    r.any = r.hasAny ? share(meet, r.pairs) : kNaN;

    // Load-aware chance: unrelated tokens with this layer's loads.
    std::vector<std::int64_t> firstCounts(std::size_t(E), 0);
    std::int64_t validTokens = 0;
    for (std::int64_t t = 0; t < T; ++t)
        if (valid[t]) {
            ++validTokens;
            ++firstCounts[std::size_t(ids[t * k])];
        }
    double sum = 0;
    for (std::int64_t n : firstCounts)
        sum += (double(n) / double(validTokens)) * (double(n) / double(validTokens));
    r.firstLoadAware = validTokens ? sum : kNaN;
    if (r.hasAny) {
        // Pairs (t, (t + floor(T/2)) mod T) over the dump's positions, both valid; the
        // partners of a block of t are a block too, but for the one wrap around T.
        std::int64_t far = 0;
        const std::int64_t half = T / 2;
        for (std::int64_t from = 0, end = 0; from < T && half > 0; from = end) {
            const std::int64_t partner = from + half < T ? from + half : from + half - T;
            end = std::min({from + kMaskBlock, T, from + (T - partner)}); // stop at the wrap
            if (vector8) {
                meetingRows8(ids, valid, from, end, partner - from, r.loadAwarePairs, far);
                continue;
            }
            for (std::int64_t t = from; t < end; ++t) {
                const std::int64_t u = partner + (t - from);
                if (!valid[t] || !valid[u])
                    continue;
                ++r.loadAwarePairs;
                far += masks ? (setMask[t] & setMask[u]) != 0 : marksMeet(t, u);
            }
        }
        r.anyLoadAware = share(far, r.loadAwarePairs);
    } else {
        r.anyLoadAware = kNaN;
    }
    return r;
}

} // namespace moescope
