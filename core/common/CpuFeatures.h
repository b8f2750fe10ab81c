#pragma once
// Processor features that __builtin_cpu_supports does not know in every compiler
// (clang 14 has neither "f16c" nor "bmi2"), read from CPUID itself. x86 only.
#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>

namespace moescope {

// AVX2: CPUID leaf 7 (sub-leaf 0), EBX bit 5. (The operating system's saving of the
// YMM registers is taken as given: every system this runs on does.)
inline bool cpuHasAvx2()
{
    unsigned a = 0, b = 0, c = 0, d = 0;
    return __get_cpuid_count(7, 0, &a, &b, &c, &d) && (b & bit_AVX2) != 0;
}

// F16C: CPUID leaf 1, ECX bit 29.
inline bool cpuHasF16c()
{
    unsigned a = 0, b = 0, c = 0, d = 0;
    return __get_cpuid(1, &a, &b, &c, &d) && (c & bit_F16C) != 0;
}

// BMI2: CPUID leaf 7 (sub-leaf 0), EBX bit 8.
inline bool cpuHasBmi2()
{
    unsigned a = 0, b = 0, c = 0, d = 0;
    return __get_cpuid_count(7, 0, &a, &b, &c, &d) && (b & bit_BMI2) != 0;
}

} // namespace moescope
#endif
