// The vector row kernel (RowKernel.inl) for AVX-512 processors.
#include "routing/CpuKernel.h"

#include "common/CpuFeatures.h"

#if defined(__x86_64__) || defined(__i386__)
// GCC 12 reports its own _mm512_undefined_* self-initialisation (GCC bug 105593) in
// every intrinsic that uses it; the warning is about the compiler's headers.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include "routing/SimdAvx512.h"

namespace moescope::kernels {

namespace {
using S = simd::Avx512;
#define KERNEL_TARGET __attribute__((target(MOESCOPE_AVX512_TARGET)))
#define KERNEL_INLINE MOESCOPE_AVX512_INLINE
#include "routing/RowKernel.inl"
#include "routing/RowsInLanesKernel.inl"
#undef KERNEL_TARGET
#undef KERNEL_INLINE
} // namespace

void routeRowsAvx512(RowJob &job)
{
    if (lanesServe(job))
        routeHalvesInLanes(job);
    else
        routeRows(job);
}

bool processorHasAvx512()
{
    static const bool has = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                            __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl") &&
                            __builtin_cpu_supports("fma") && cpuHasF16c() &&
                            cpuHasBmi2();
    return has;
}

} // namespace moescope::kernels

#else // not x86: the scalar path serves every call

namespace moescope::kernels {
void routeRowsAvx512(RowJob &) {}
bool processorHasAvx512() { return false; }
} // namespace moescope::kernels

#endif
