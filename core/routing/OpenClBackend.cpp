#include "routing/OpenClBackend.h"

#include "routing/OpenClPairs.h"
#include "routing/OpenClRuntime.h"

#include <algorithm>
#include <cfloat>
#include <climits>
#include <cmath>
#include <initializer_list>
#include <optional>
#include <stdexcept>
#include <utility>

namespace moescope {

namespace {

// The limits the host decides by and the kernels size their arrays by. The kernels
// receive them, and the bits of `flags`, as -D build options (kernelBuildOptions), so
// the two sides cannot drift apart; RoutingKernels.cl refuses to build without them.
constexpr int kMaxTopK = 32;      // KMAX: larger k route on the CPU
constexpr int kMaxGroups = 64;    // GMAX: more expert groups route on the CPU
using opencl::kMaxExperts;   // E per launch (OpenClPairs.h)
using opencl::kMaxPairTopK;  // PAIR_KMAX: co-activation of larger k counts on the CPU
using opencl::PairCounter;
enum KernelFlags {
    FlagSigmoid = 1,
    FlagProbabilities = 2,
    FlagBias = 4,
    FlagNormalize = 8,
    FlagRoute = 16,
    FlagWeights = 32,
    FlagGate = 64,
};

std::string kernelBuildOptions()
{
    std::string options;
    auto define = [&options](const char *name, int value) {
        options += std::string(options.empty() ? "" : " ") + "-D " + name + "=" + std::to_string(value);
    };
    define("KMAX", kMaxTopK);
    define("GMAX", kMaxGroups);
    define("PAIR_KMAX", kMaxPairTopK);
    define("FLAG_SIGMOID", FlagSigmoid);
    define("FLAG_PROBABILITIES", FlagProbabilities);
    define("FLAG_BIAS", FlagBias);
    define("FLAG_NORMALIZE", FlagNormalize);
    define("FLAG_ROUTE", FlagRoute);
    define("FLAG_WEIGHTS", FlagWeights);
    define("FLAG_GATE", FlagGate);
    return options;
}

constexpr std::size_t kWorkGroup = 64;
constexpr std::size_t kSweepFactorsPerLaunch = 1024;

// Rows per batch: up to 8M logits (32 MB of float) and at most 16384 rows, a multiple
// of the work-group size.
std::size_t batchRowsFor(int E)
{
    const std::size_t rows = std::clamp<std::size_t>((std::size_t(8) << 20) / std::size_t(E), kWorkGroup, 16384);
    return rows / kWorkGroup * kWorkGroup;
}

// One batch's device buffers and where its partial sums land on the host.
struct Slot {
    cl::Buffer input, ids, weights, gate, valid, counts, probPartial, zPartial, validPartial;
    std::size_t inputBytes = 0, rowsCapacity = 0, experts = 0, topK = 0;
    std::vector<float> probHost, zHost;
    std::vector<cl_uint> validHost, countsHost;
    std::size_t rows = 0, groups = 0;
    bool busy = false, routed = false;
};

class OpenClBackend final : public RoutingBackend {
public:
    OpenClBackend(std::shared_ptr<const opencl::Runtime> rt, bool fallbackOnError, const OpenClTestHooks &hooks)
        : m_rt(std::move(rt)), m_fallback(fallbackOnError), m_cpu(makeCpuBackend()),
          m_pairs(*m_rt, hooks), m_pairPath(hooks.pairPath), m_routePath(hooks.routePath)
    {
        for (auto &q : m_queues)
            q = cl::CommandQueue(m_rt->context, m_rt->device);
        m_routeHalf = cl::Kernel(m_rt->program, "route_half");
        m_routeFloat = cl::Kernel(m_rt->program, "route_float");
        m_sweep = cl::Kernel(m_rt->program, "sweep_capacity");
        m_noBias = cl::Buffer(m_rt->context, CL_MEM_READ_ONLY, sizeof(float));
    }

    ~OpenClBackend() override
    {
        for (auto &q : m_queues) {
            try {
                q.finish();
            } catch (const cl::Error &) {
            }
        }
    }

    std::string name() const override { return "opencl (" + m_rt->deviceName + ")"; }

    void route(const LogitsView &in, const RoutingRules &rules, const ChunkOutput &out, LossTotals &totals) override
    {
        checkRequest(in, rules, out, totals);
        const int E = in.numExperts;
        if (m_failed || !covers(in, rules, out)) {
            notePath(m_routePath, "cpu");
            m_cpu->route(in, rules, out, totals);
            return;
        }
        if (in.rows == 0)
            return;

        LogitsView view = in;
        std::vector<float> narrowed;
        if (in.type == LogitsType::Float64) {
            // The kernels compute in float: round, keeping finite values finite.
            const auto *src = static_cast<const double *>(in.data);
            narrowed.resize(in.rows * std::size_t(E));
            for (std::size_t i = 0; i < narrowed.size(); ++i)
                narrowed[i] = std::isfinite(src[i]) ? float(std::clamp(src[i], -double(FLT_MAX), double(FLT_MAX)))
                                                    : float(src[i]);
            view.data = narrowed.data();
            view.type = LogitsType::Float32;
        }
        LossTotals local;
        local.probSum.assign(std::size_t(E), 0.0);
        local.counts.assign(std::size_t(E), 0);
        if (doneOnDevice([&] {
                routeOnDevice(view, rules, out, local);
                return true;
            })) {
            notePath(m_routePath, "device");
            totals.add(local);
            return;
        }
        notePath(m_routePath, "cpu");
        m_cpu->route(in, rules, out, totals);
    }

    CapacitySweepResult sweepCapacity(const CapacityRanks &ranks, const std::vector<double> &factors) override
    {
        const std::size_t groups = ranks.groupTokens.size();
        if (m_failed || ranks.validTokens() == 0 || factors.empty() || groups * factors.size() > (std::size_t(1) << 24))
            return sweepCapacityOnCpu(ranks, factors);
        CapacitySweepResult result;
        if (doneOnDevice([&] {
                result = sweepOnDevice(ranks, factors);
                return true;
            }))
            return result;
        return sweepCapacityOnCpu(ranks, factors);
    }

    std::vector<std::int64_t> coActivation(const LayerChoices &c) override
    {
        if (m_failed || !PairCounter::fits(c, c.numPositions(), kMaxPairTopK))
            return coActivationOnCpu(c);
        std::optional<std::vector<std::int64_t>> counts;
        if (doneOnDevice([&] { return (counts = m_pairs.coActivation(c, m_queues[0])).has_value(); }))
            return *std::move(counts);
        return coActivationOnCpu(c);
    }

    std::vector<std::int64_t> layerTransitions(const LayerChoices &from, const LayerChoices &to) override
    {
        const std::int64_t T = std::min(from.numPositions(), to.numPositions());
        // Only the first id of a token is read: any k will do.
        if (m_failed || !PairCounter::fits(from, T, INT_MAX) || !PairCounter::fits(to, T, INT_MAX))
            return layerTransitionsOnCpu(from, to);
        std::optional<std::vector<std::int64_t>> counts;
        if (doneOnDevice(
                [&] { return (counts = m_pairs.layerTransitions(from, to, std::size_t(T), m_queues[0])).has_value(); }))
            return *std::move(counts);
        return layerTransitionsOnCpu(from, to);
    }

    std::vector<std::string> takeWarnings() override { return std::exchange(m_warnings, {}); }

private:
    static bool covers(const LogitsView &in, const RoutingRules &rules, const ChunkOutput &out)
    {
        if (in.numExperts > kMaxExperts)
            return false;
        if (!out.ids)
            return true;
        if (rules.topK > kMaxTopK)
            return false;
        if (rules.groupLimited() && (rules.numGroups > kMaxGroups || in.numExperts % rules.numGroups != 0))
            return false;
        return true;
    }

    // Runs `work` on the device: true when it did the work there; false when it declined
    // (returned false) or failed, and the caller does the work on the CPU. A failure (an
    // OpenCL error, host memory running out) goes through failed(): an error without
    // fallback, else a warning and the CPU from now on.
    template <typename Work>
    bool doneOnDevice(Work &&work)
    {
        try {
            return work();
        } catch (const cl::Error &e) {
            failed(opencl::errorText(e));
        } catch (const std::bad_alloc &) {
            failed("out of host memory");
        }
        return false;
    }

    // An OpenCL failure: an error without fallback, else a warning and the CPU from now on.
    void failed(const std::string &what)
    {
        for (auto &s : m_slots)
            s.busy = false;
        for (auto &q : m_queues) {
            try {
                q.finish();
            } catch (const cl::Error &) {
            }
        }
        if (!m_fallback)
            throw std::runtime_error("OpenCL device " + m_rt->deviceName + " failed: " + what);
        m_failed = true;
        m_warnings.push_back("the OpenCL device " + m_rt->deviceName + " failed (" + what +
                             "); routing continues on the CPU");
    }

    void prepare(Slot &s, int E, int k, std::size_t elementBytes, std::size_t rows)
    {
        const std::size_t inputBytes = rows * std::size_t(E) * elementBytes;
        if (s.rowsCapacity >= rows && s.experts == std::size_t(E) && s.topK >= std::size_t(k) && s.inputBytes >= inputBytes)
            return;
        const cl::Context &c = m_rt->context;
        const std::size_t groups = (rows + kWorkGroup - 1) / kWorkGroup;
        s.input = cl::Buffer(c, CL_MEM_READ_ONLY, inputBytes);
        s.ids = cl::Buffer(c, CL_MEM_WRITE_ONLY, rows * std::size_t(k) * sizeof(cl_int));
        s.weights = cl::Buffer(c, CL_MEM_WRITE_ONLY, rows * std::size_t(k) * sizeof(cl_float));
        s.gate = cl::Buffer(c, CL_MEM_WRITE_ONLY, rows * std::size_t(k) * sizeof(cl_float));
        s.valid = cl::Buffer(c, CL_MEM_WRITE_ONLY, rows);
        s.counts = cl::Buffer(c, CL_MEM_READ_WRITE, std::size_t(E) * sizeof(cl_uint));
        s.probPartial = cl::Buffer(c, CL_MEM_WRITE_ONLY, groups * std::size_t(E) * sizeof(cl_float));
        s.zPartial = cl::Buffer(c, CL_MEM_WRITE_ONLY, groups * sizeof(cl_float));
        s.validPartial = cl::Buffer(c, CL_MEM_WRITE_ONLY, groups * sizeof(cl_uint));
        s.inputBytes = inputBytes;
        s.rowsCapacity = rows;
        s.experts = std::size_t(E);
        s.topK = std::size_t(k);
    }

    // Waits for a batch and adds its partial sums.
    void collect(Slot &s, cl::CommandQueue &q, LossTotals &totals)
    {
        q.finish();
        const std::size_t E = s.experts;
        for (std::size_t g = 0; g < s.groups; ++g) {
            for (std::size_t e = 0; e < E; ++e)
                totals.probSum[e] += double(s.probHost[g * E + e]);
            totals.zSquaredSum += double(s.zHost[g]);
            totals.validRows += s.validHost[g];
            totals.invalidRows += std::int64_t(std::min(kWorkGroup, s.rows - g * kWorkGroup)) - s.validHost[g];
        }
        if (s.routed)
            for (std::size_t e = 0; e < E; ++e)
                totals.counts[e] += s.countsHost[e];
        s.busy = false;
    }

    void routeOnDevice(const LogitsView &in, const RoutingRules &rules, const ChunkOutput &out, LossTotals &totals)
    {
        const int E = in.numExperts, k = out.ids ? rules.topK : 1;
        const bool half = in.type == LogitsType::Float16;
        const std::size_t elementBytes = half ? 2 : 4;
        const std::size_t batch = batchRowsFor(E);
        cl_int flags = 0;
        if (rules.scoring == Scoring::Sigmoid)
            flags |= FlagSigmoid;
        if (rules.inputsAreProbabilities)
            flags |= FlagProbabilities;
        if (rules.normalizeTopK)
            flags |= FlagNormalize;
        if (out.ids) {
            flags |= FlagRoute;
            if (rules.hasBias())
                flags |= FlagBias;
            if (out.weights)
                flags |= FlagWeights;
            if (out.gateProbs)
                flags |= FlagGate;
        }
        cl::Buffer bias = m_noBias;
        if (flags & FlagBias) {
            std::vector<float> b(rules.expertBias.begin(), rules.expertBias.end());
            b.resize(std::size_t(E), 0.0f);
            bias = cl::Buffer(m_rt->context, CL_MEM_READ_ONLY | CL_MEM_COPY_HOST_PTR, b.size() * sizeof(float), b.data());
        }
        const cl_int groups = rules.groupLimited() && out.ids ? rules.numGroups : 1;
        const cl_int groupsKept = rules.groupLimited() && out.ids ? rules.topKGroups : 1;
        const auto *source = static_cast<const unsigned char *>(in.data);

        std::size_t index = 0;
        for (std::size_t begin = 0; begin < in.rows; begin += batch, ++index) {
            Slot &s = m_slots[index % 2];
            cl::CommandQueue &q = m_queues[index % 2];
            if (s.busy)
                collect(s, q, totals); // this slot's previous batch; the other one keeps running
            prepare(s, E, k, elementBytes, batch);
            const std::size_t n = std::min(batch, in.rows - begin);
            const std::size_t workGroups = (n + kWorkGroup - 1) / kWorkGroup;
            s.rows = n;
            s.groups = workGroups;
            s.routed = out.ids != nullptr;
            s.probHost.resize(workGroups * std::size_t(E));
            s.zHost.resize(workGroups);
            s.validHost.resize(workGroups);
            s.countsHost.resize(std::size_t(E));

            q.enqueueWriteBuffer(s.input, CL_FALSE, 0, n * std::size_t(E) * elementBytes,
                                 source + begin * std::size_t(E) * elementBytes);
            q.enqueueFillBuffer(s.counts, cl_uint(0), 0, std::size_t(E) * sizeof(cl_uint));
            cl::Kernel &kernel = half ? m_routeHalf : m_routeFloat;
            cl_uint arg = 0;
            kernel.setArg(arg++, s.input);
            kernel.setArg(arg++, cl_uint(n));
            kernel.setArg(arg++, cl_int(E));
            kernel.setArg(arg++, cl_int(k));
            kernel.setArg(arg++, flags);
            kernel.setArg(arg++, bias);
            kernel.setArg(arg++, groups);
            kernel.setArg(arg++, groupsKept);
            kernel.setArg(arg++, cl_float(rules.routedScalingFactor));
            kernel.setArg(arg++, s.ids);
            kernel.setArg(arg++, s.weights);
            kernel.setArg(arg++, s.gate);
            kernel.setArg(arg++, s.valid);
            kernel.setArg(arg++, s.counts);
            kernel.setArg(arg++, s.probPartial);
            kernel.setArg(arg++, s.zPartial);
            kernel.setArg(arg++, s.validPartial);
            kernel.setArg(arg++, cl::Local(std::size_t(E) * sizeof(cl_uint)));
            kernel.setArg(arg++, cl::Local(kWorkGroup * sizeof(cl_float)));
            kernel.setArg(arg++, cl::Local(kWorkGroup * sizeof(cl_float)));
            kernel.setArg(arg++, cl::Local(kWorkGroup * sizeof(cl_float)));
            kernel.setArg(arg++, cl::Local(kWorkGroup * sizeof(cl_uchar)));
            q.enqueueNDRangeKernel(kernel, cl::NullRange, cl::NDRange(workGroups * kWorkGroup), cl::NDRange(kWorkGroup));

            // Results straight into the caller's arrays; the call returns only after all reads.
            const std::size_t at = begin * std::size_t(k);
            if (out.ids)
                q.enqueueReadBuffer(s.ids, CL_FALSE, 0, n * std::size_t(k) * sizeof(cl_int), out.ids + at);
            if (flags & FlagWeights)
                q.enqueueReadBuffer(s.weights, CL_FALSE, 0, n * std::size_t(k) * sizeof(cl_float), out.weights + at);
            if (flags & FlagGate)
                q.enqueueReadBuffer(s.gate, CL_FALSE, 0, n * std::size_t(k) * sizeof(cl_float), out.gateProbs + at);
            q.enqueueReadBuffer(s.valid, CL_FALSE, 0, n, out.valid + begin);
            q.enqueueReadBuffer(s.probPartial, CL_FALSE, 0, s.probHost.size() * sizeof(cl_float), s.probHost.data());
            q.enqueueReadBuffer(s.zPartial, CL_FALSE, 0, s.zHost.size() * sizeof(cl_float), s.zHost.data());
            q.enqueueReadBuffer(s.validPartial, CL_FALSE, 0, s.validHost.size() * sizeof(cl_uint), s.validHost.data());
            q.enqueueReadBuffer(s.counts, CL_FALSE, 0, s.countsHost.size() * sizeof(cl_uint), s.countsHost.data());
            q.flush(); // start now, so this batch runs while the next one is queued
            s.busy = true;
        }
        for (std::size_t i = 0; i < 2; ++i)
            if (m_slots[i].busy)
                collect(m_slots[i], m_queues[i], totals);
    }

    CapacitySweepResult sweepOnDevice(const CapacityRanks &ranks, const std::vector<double> &factors)
    {
        const std::size_t N = factors.size(), tokens = std::size_t(ranks.validTokens());
        const int k = ranks.topK;
        std::vector<cl_int> table;
        for (std::int64_t c : capacityTable(ranks, factors))
            table.push_back(cl_int(std::min<std::int64_t>(c, INT_MAX))); // ranks stay below 2^31
        const cl::Context &c = m_rt->context;
        auto input = [&](const void *data, std::size_t bytes) {
            return cl::Buffer(c, CL_MEM_READ_ONLY | CL_MEM_COPY_HOST_PTR, std::max<std::size_t>(bytes, 4),
                              const_cast<void *>(data));
        };
        const cl::Buffer rankBuffer = input(ranks.ranks.data(), ranks.ranks.size() * sizeof(cl_int));
        const cl::Buffer minBuffer = input(ranks.minRank.data(), ranks.minRank.size() * sizeof(cl_int));
        const cl::Buffer groupBuffer = input(ranks.group.data(), ranks.group.size() * sizeof(cl_int));
        const cl::Buffer tableBuffer = input(table.data(), table.size() * sizeof(cl_int));
        const std::size_t slice = std::min(N, kSweepFactorsPerLaunch);
        const cl::Buffer dropped(c, CL_MEM_READ_WRITE, slice * sizeof(cl_uint));
        const cl::Buffer fully(c, CL_MEM_READ_WRITE, slice * sizeof(cl_uint));
        // Per launch each count stays below 2^31: at most that many assignments.
        const std::size_t perLaunch = std::max<std::size_t>(kWorkGroup, std::size_t(INT_MAX) / std::size_t(k));

        CapacitySweepResult r;
        r.factors = factors;
        r.dropped.assign(N, 0);
        r.fullyDropped.assign(N, 0);
        std::vector<cl_uint> d(slice), f(slice);
        cl::CommandQueue &q = m_queues[0];
        for (std::size_t j0 = 0; j0 < N; j0 += slice) {
            const std::size_t count = std::min(slice, N - j0);
            for (std::size_t first = 0; first < tokens; first += perLaunch) {
                const std::size_t end = std::min(tokens, first + perLaunch);
                q.enqueueFillBuffer(dropped, cl_uint(0), 0, count * sizeof(cl_uint));
                q.enqueueFillBuffer(fully, cl_uint(0), 0, count * sizeof(cl_uint));
                cl_uint arg = 0;
                m_sweep.setArg(arg++, rankBuffer);
                m_sweep.setArg(arg++, minBuffer);
                m_sweep.setArg(arg++, groupBuffer);
                m_sweep.setArg(arg++, cl_uint(first));
                m_sweep.setArg(arg++, cl_uint(end));
                m_sweep.setArg(arg++, cl_int(k));
                m_sweep.setArg(arg++, tableBuffer);
                m_sweep.setArg(arg++, cl_int(N));
                m_sweep.setArg(arg++, cl_int(j0));
                m_sweep.setArg(arg++, cl_int(count));
                m_sweep.setArg(arg++, dropped);
                m_sweep.setArg(arg++, fully);
                m_sweep.setArg(arg++, cl::Local(count * sizeof(cl_uint)));
                m_sweep.setArg(arg++, cl::Local(count * sizeof(cl_uint)));
                const std::size_t global = (end - first + kWorkGroup - 1) / kWorkGroup * kWorkGroup;
                q.enqueueNDRangeKernel(m_sweep, cl::NullRange, cl::NDRange(global), cl::NDRange(kWorkGroup));
                q.enqueueReadBuffer(dropped, CL_FALSE, 0, count * sizeof(cl_uint), d.data());
                q.enqueueReadBuffer(fully, CL_TRUE, 0, count * sizeof(cl_uint), f.data());
                for (std::size_t j = 0; j < count; ++j) {
                    r.dropped[j0 + j] += d[j];
                    r.fullyDropped[j0 + j] += f[j];
                }
            }
        }
        finishSweep(ranks, r);
        return r;
    }

    static void notePath(std::string *where, const char *path)
    {
        if (where)
            *where = path;
    }
    void notePairPath(const char *path) { notePath(m_pairPath, path); }

    std::vector<std::int64_t> coActivationOnCpu(const LayerChoices &c)
    {
        notePairPath("cpu");
        return m_cpu->coActivation(c);
    }

    std::vector<std::int64_t> layerTransitionsOnCpu(const LayerChoices &from, const LayerChoices &to)
    {
        notePairPath("cpu");
        return m_cpu->layerTransitions(from, to);
    }

    std::shared_ptr<const opencl::Runtime> m_rt;
    bool m_fallback;
    bool m_failed = false;
    std::unique_ptr<RoutingBackend> m_cpu; // what the kernels do not cover, and the fallback
    cl::CommandQueue m_queues[2];
    cl::Kernel m_routeHalf, m_routeFloat, m_sweep;
    PairCounter m_pairs; // the expert-pair matrices
    std::string *m_pairPath, *m_routePath;
    cl::Buffer m_noBias;
    Slot m_slots[2];
    std::vector<std::string> m_warnings;
};

} // namespace

std::vector<OpenClDeviceInfo> openClDevices(std::string *problem, const OpenClTestHooks &hooks)
{
    std::vector<OpenClDeviceInfo> out;
    for (const auto &d : opencl::listDevices(problem))
        out.push_back({d.name, d.gpu || hooks.anyDeviceIsGpu});
    return out;
}

std::vector<OpenClDeviceInfo> openClDevices(std::string *problem) { return openClDevices(problem, {}); }

std::unique_ptr<RoutingBackend> makeOpenClBackend(bool gpuOnly, bool fallbackOnError)
{
    return makeOpenClBackend(gpuOnly, fallbackOnError, {});
}

std::unique_ptr<RoutingBackend> makeOpenClBackend(bool gpuOnly, bool fallbackOnError, const OpenClTestHooks &hooks)
{
    std::string problem;
    std::vector<opencl::DeviceEntry> devices = opencl::listDevices(&problem);
    for (auto &d : devices)
        d.gpu |= hooks.anyDeviceIsGpu;
    const opencl::DeviceEntry *pick = nullptr;
    for (const auto &d : devices)
        if (d.gpu && !pick)
            pick = &d;
    if (!pick && !gpuOnly && !devices.empty())
        pick = &devices.front();
    if (!pick)
        throw std::runtime_error(devices.empty() ? "no OpenCL device found (" + problem + ")"
                                                 : std::string("no GPU-type OpenCL device found"));
    const auto rt = opencl::runtimeFor(*pick, kernelBuildOptions() + " " + hooks.extraBuildOptions);
    try {
        return std::make_unique<OpenClBackend>(rt, fallbackOnError, hooks);
    } catch (const cl::Error &e) {
        throw std::runtime_error("OpenCL: cannot use " + pick->name + ": " + opencl::errorText(e));
    }
}

} // namespace moescope
