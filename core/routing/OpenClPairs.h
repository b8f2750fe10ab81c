#pragma once
// The expert-pair matrices on an OpenCL device (internal to OpenClBackend.cpp): the
// co_activation and layer_transitions kernels of RoutingKernels.cl, counting into a
// work-group histogram in local memory when it fits, else into global memory, over the
// tokens in batches. The counts are exact (integers), so they equal the CPU's.
#include "routing/OpenClBackend.h"
#include "routing/OpenClRuntime.h"
#include "stats/LayerChoices.h"

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <vector>

namespace moescope::opencl {

// Experts per launch: the host sizes every histogram and table by it.
inline constexpr int kMaxExperts = 4096;
// PAIR_KMAX of the kernels: co-activation of larger k counts on the CPU.
inline constexpr int kMaxPairTopK = 32;

class PairCounter {
public:
    // Asks the device once what the pair kernels may use; the hooks (OpenClBackend.h)
    // replace the local memory and the tokens per launch, and receive each call's path.
    PairCounter(const Runtime &rt, const OpenClTestHooks &hooks);

    // Whether the kernels take positions [0, T) of `c` with k <= maxK: every count and
    // token index stays below 2^32 (a device uint), and the ids are all there.
    static bool fits(const LayerChoices &c, std::int64_t T, int maxK);

    // The E x E matrices, or nothing when an id lies outside [0, E) (the caller then
    // counts on the CPU, as the reference does). Throw cl::Error when the device fails.
    std::optional<std::vector<std::int64_t>> coActivation(const LayerChoices &c, cl::CommandQueue &q);
    std::optional<std::vector<std::int64_t>>
    layerTransitions(const LayerChoices &from, const LayerChoices &to, std::size_t T, cl::CommandQueue &q);

private:
    bool countPairs(cl::Kernel &kernel, std::initializer_list<const LayerChoices *> layers, std::size_t T,
                    std::size_t E, std::size_t bins, std::vector<cl_uint> &out, cl::CommandQueue &q);

    const Runtime &m_rt;
    cl::Kernel m_coActivation, m_transitions;
    std::size_t m_workGroup = 1, m_groups = 1, m_localBytes = 0, m_batchTokens = 0;
    cl_ulong m_maxAlloc = 0;
    std::string *m_path = nullptr;
};

} // namespace moescope::opencl
