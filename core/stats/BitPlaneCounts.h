#pragma once
// Up to 256 counters (one per expert) held as bit planes: bit e of plane j is bit j of
// expert e's count. Adding a token's set of experts (one bit each) is then a binary
// add across all 256 lanes at once, a handful of whole-register operations, with no
// load and store per expert and nothing to do for an expert a row repeats (a set has
// each bit once). The largest count and the lowest expert holding it come from the
// planes, highest first, without a walk over the 256 counts; so does the reset.
//
// The planes are GCC vector types: 4 x 64 bits, one AVX2 register where the caller is
// compiled for AVX2, two SSE2 registers otherwise. Header-only so that each caller
// compiles the adds for its own target (the functions are always inlined).
#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>

namespace moescope::bitplanes {

using Lanes = std::uint64_t __attribute__((vector_size(32)));

constexpr int kLanes = 256;

[[gnu::always_inline]] inline bool anyLane(Lanes x)
{
    return (x[0] | x[1] | x[2] | x[3]) != 0;
}

// Lane e alone, for e < 256.
struct OneHot {
    Lanes of[kLanes];
    OneHot()
    {
        for (int e = 0; e < kLanes; ++e) {
            of[e] = Lanes{0, 0, 0, 0};
            of[e][e / 64] = std::uint64_t(1) << (e % 64);
        }
    }
};

inline const OneHot &oneHot()
{
    alignas(32) static const OneHot table;
    return table;
}

// 256 counts. The four lowest planes are added to unconditionally (they change on
// almost every add); a carry out of them, once in 16 adds of a lane, ripples on
// through the rest.
struct Counts {
    Lanes low[4] = {};   // weights 1, 2, 4, 8
    Lanes high[60] = {}; // weights 16, 32, ... (60 planes: any int64 count)
    int used = 0;        // high planes that may hold a bit

    [[gnu::always_inline]] void add(Lanes x, Lanes &l0, Lanes &l1, Lanes &l2, Lanes &l3)
    {
        Lanes c = l0 & x;
        l0 ^= x;
        Lanes d = l1 & c;
        l1 ^= c;
        c = l2 & d;
        l2 ^= d;
        d = l3 & c;
        l3 ^= c;
        if (anyLane(d)) [[unlikely]]
            carry(d);
    }

    void carry(Lanes c)
    {
        for (int j = 0; anyLane(c); ++j) {
            const Lanes next = high[j] & c;
            high[j] ^= c;
            c = next;
            used = std::max(used, j + 1);
        }
    }

    // The largest count, and the lowest lane holding it (lane 0 with count 0 when
    // nothing was added).
    void most(std::size_t &lane, std::int64_t &count) const
    {
        Lanes candidates = ~Lanes{0, 0, 0, 0};
        std::int64_t value = 0;
        auto narrow = [&](Lanes plane, std::int64_t weight) {
            const Lanes both = candidates & plane;
            if (anyLane(both)) {
                candidates = both;
                value |= weight;
            }
        };
        for (int j = used - 1; j >= 0; --j)
            narrow(high[j], std::int64_t(16) << j);
        for (int j = 3; j >= 0; --j)
            narrow(low[j], std::int64_t(1) << j);
        lane = 0;
        for (int w = 0; w < 4; ++w)
            if (candidates[w]) {
                lane = std::size_t(w * 64 + std::countr_zero(candidates[w]));
                break;
            }
        count = value;
    }

    void reset()
    {
        std::fill(low, low + 4, Lanes{0, 0, 0, 0});
        std::fill(high, high + used, Lanes{0, 0, 0, 0});
        used = 0;
    }
};

} // namespace moescope::bitplanes
