#include "routing/OpenClPairs.h"

#include <algorithm>
#include <climits>

namespace moescope::opencl {

namespace {

// The pair kernels: work-groups of 256 spread a local histogram's clearing and adding
// over many tokens, and every vendor's GPU takes them; four groups per compute unit
// keep the units busy while the tokens stride through them. At most 4M tokens per
// launch keeps the device buffers modest whatever the dump's length.
constexpr std::size_t kWorkGroup = 256;
constexpr std::size_t kGroupsPerUnit = 4;
constexpr std::size_t kBatchTokens = std::size_t(1) << 22;

// The E x E matrix of co_activation's packed upper triangle (row by row, lo <= hi).
std::vector<std::int64_t> mirroredTriangle(const std::vector<cl_uint> &bins, std::size_t E)
{
    std::vector<std::int64_t> a(E * E);
    std::size_t bin = 0;
    for (std::size_t lo = 0; lo < E; ++lo)
        for (std::size_t hi = lo; hi < E; ++hi)
            a[lo * E + hi] = a[hi * E + lo] = bins[bin++];
    return a;
}

} // namespace

PairCounter::PairCounter(const Runtime &rt, const OpenClTestHooks &hooks)
    : m_rt(rt), m_coActivation(rt.program, "co_activation"), m_transitions(rt.program, "layer_transitions"),
      m_batchTokens(hooks.pairBatchTokens), m_path(hooks.pairPath)
{
    const cl::Device &d = m_rt.device;
    const std::size_t kernelLimit = std::min(m_coActivation.getWorkGroupInfo<CL_KERNEL_WORK_GROUP_SIZE>(d),
                                             m_transitions.getWorkGroupInfo<CL_KERNEL_WORK_GROUP_SIZE>(d));
    m_workGroup = std::clamp<std::size_t>(kernelLimit, 1, kWorkGroup);
    m_groups = std::max<std::size_t>(1, d.getInfo<CL_DEVICE_MAX_COMPUTE_UNITS>()) * kGroupsPerUnit;
    m_maxAlloc = d.getInfo<CL_DEVICE_MAX_MEM_ALLOC_SIZE>();
    if (hooks.pairLocalBytes) {
        m_localBytes = hooks.pairLocalBytes;
        return;
    }
    // What the kernels take themselves (before any local argument), and an eighth of
    // the rest left alone: some drivers keep local memory they do not report, and a
    // launch asking for all of it would fail there.
    const cl_ulong local = d.getInfo<CL_DEVICE_LOCAL_MEM_SIZE>();
    const cl_ulong own = std::max(m_coActivation.getWorkGroupInfo<CL_KERNEL_LOCAL_MEM_SIZE>(d),
                                  m_transitions.getWorkGroupInfo<CL_KERNEL_LOCAL_MEM_SIZE>(d));
    m_localBytes = local > own ? std::size_t((local - own) / 8 * 7) : 0;
}

bool PairCounter::fits(const LayerChoices &c, std::int64_t T, int maxK)
{
    return c.numExperts >= 1 && c.numExperts <= kMaxExperts && c.topK >= 1 && c.topK <= maxK && T >= 1 &&
           T <= std::int64_t(UINT_MAX) && c.ids.size() / std::size_t(c.topK) >= std::size_t(T);
}

std::optional<std::vector<std::int64_t>> PairCounter::coActivation(const LayerChoices &c, cl::CommandQueue &q)
{
    const std::size_t E = std::size_t(c.numExperts);
    std::vector<cl_uint> bins;
    if (!countPairs(m_coActivation, {&c}, std::size_t(c.numPositions()), E, E * (E + 1) / 2, bins, q))
        return std::nullopt;
    return mirroredTriangle(bins, E);
}

std::optional<std::vector<std::int64_t>> PairCounter::layerTransitions(const LayerChoices &from,
                                                                       const LayerChoices &to, std::size_t T,
                                                                       cl::CommandQueue &q)
{
    const std::size_t E = std::size_t(from.numExperts);
    std::vector<cl_uint> bins;
    if (!countPairs(m_transitions, {&from, &to}, T, E, E * E, bins, q))
        return std::nullopt;
    return std::vector<std::int64_t>(bins.begin(), bins.end());
}

// Runs a pair kernel over positions [0, T) of `layers` (its ids, k and validity
// arguments, in order) in batches of tokens, into `bins` counters read back into
// `out`. False when the kernel met an id outside [0, E).
bool PairCounter::countPairs(cl::Kernel &kernel, std::initializer_list<const LayerChoices *> layers,
                             std::size_t T, std::size_t E, std::size_t bins, std::vector<cl_uint> &out,
                             cl::CommandQueue &q)
{
    const bool local = bins * sizeof(cl_uint) <= m_localBytes;
    if (m_path)
        *m_path = local ? "local" : "global";
    std::size_t widest = 1;
    for (const LayerChoices *c : layers)
        widest = std::max(widest, std::size_t(c->topK));
    std::size_t batch = m_batchTokens;
    if (!batch)
        batch = std::clamp<std::size_t>(std::size_t(m_maxAlloc / (widest * sizeof(cl_int))), 1, kBatchTokens);
    batch = std::min(batch, T);

    const cl::Context &context = m_rt.context;
    const cl::Buffer pairs(context, CL_MEM_READ_WRITE, bins * sizeof(cl_uint));
    const cl::Buffer bad(context, CL_MEM_READ_WRITE, sizeof(cl_uint));
    q.enqueueFillBuffer(pairs, cl_uint(0), 0, bins * sizeof(cl_uint));
    q.enqueueFillBuffer(bad, cl_uint(0), 0, sizeof(cl_uint));
    cl_uint arg = 0;
    kernel.setArg(arg++, cl_uint(0)); // tokens: set per batch
    kernel.setArg(arg++, cl_int(E));
    kernel.setArg(arg++, cl_int(local));
    kernel.setArg(arg++, pairs);
    kernel.setArg(arg++, bad);
    kernel.setArg(arg++, cl::Local(local ? bins * sizeof(cl_uint) : sizeof(cl_uint))); // never 0 bytes
    std::vector<cl::Buffer> ids, valid;
    for (const LayerChoices *c : layers) {
        ids.emplace_back(context, CL_MEM_READ_ONLY, batch * std::size_t(c->topK) * sizeof(cl_int));
        valid.emplace_back(context, CL_MEM_READ_ONLY, batch);
        kernel.setArg(arg++, ids.back());
        kernel.setArg(arg++, cl_int(c->topK));
        kernel.setArg(arg++, valid.back());
    }
    try {
        for (std::size_t first = 0; first < T; first += batch) {
            const std::size_t n = std::min(batch, T - first);
            std::size_t i = 0;
            for (const LayerChoices *c : layers) {
                const std::size_t k = std::size_t(c->topK);
                q.enqueueWriteBuffer(ids[i], CL_FALSE, 0, n * k * sizeof(cl_int), c->ids.data() + first * k);
                q.enqueueWriteBuffer(valid[i], CL_FALSE, 0, n, c->valid.data() + first);
                ++i;
            }
            kernel.setArg(0, cl_uint(n));
            const std::size_t groups = std::min(m_groups, (n + m_workGroup - 1) / m_workGroup);
            q.enqueueNDRangeKernel(kernel, cl::NullRange, cl::NDRange(groups * m_workGroup),
                                   cl::NDRange(m_workGroup));
        }
    } catch (...) {
        // Writes already queued read the caller's choices: they end before we do.
        try {
            q.finish();
        } catch (const cl::Error &) {
        }
        throw;
    }
    // Blocking reads: nothing is left writing into this frame if a later call throws.
    cl_uint badIds = 0;
    q.enqueueReadBuffer(bad, CL_TRUE, 0, sizeof(cl_uint), &badIds);
    if (badIds)
        return false;
    out.resize(bins);
    q.enqueueReadBuffer(pairs, CL_TRUE, 0, bins * sizeof(cl_uint), out.data());
    return true;
}

} // namespace moescope::opencl
