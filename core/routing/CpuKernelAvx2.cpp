// The vector row kernel (RowKernel.inl) for AVX2 processors.
#include "routing/CpuKernel.h"

#include "common/CpuFeatures.h"

#if defined(__x86_64__) || defined(__i386__)
#include "routing/SimdAvx2.h"

namespace moescope::kernels {

namespace {
using S = simd::Avx2;
#define KERNEL_TARGET __attribute__((target(MOESCOPE_AVX2_TARGET)))
#define KERNEL_INLINE MOESCOPE_AVX2_INLINE
#include "routing/RowKernel.inl"
#undef KERNEL_TARGET
#undef KERNEL_INLINE
} // namespace

void routeRowsAvx2(RowJob &job) { routeRows(job); }

bool processorHasAvx2()
{
    static const bool has = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
                            cpuHasF16c() && cpuHasBmi2();
    return has;
}

} // namespace moescope::kernels

#else // not x86: the scalar path serves every call

namespace moescope::kernels {
void routeRowsAvx2(RowJob &) {}
bool processorHasAvx2() { return false; }
} // namespace moescope::kernels

#endif
