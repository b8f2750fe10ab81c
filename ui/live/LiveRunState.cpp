#include "LiveRunState.h"

#include "io/DumpPreflight.h"
#include "io/RunLog.h"

#include <cmath>

namespace moescope::ui {

LiveRunState::LiveRunState(std::string path, std::size_t maxBins, int alertWindow)
    : m_path(std::move(path)), m_maxBins(std::max<std::size_t>(2, maxBins)), m_alertWindow(alertWindow)
{
}

LiveRunState::~LiveRunState() = default;

void LiveRunState::restart()
{
    const RunLogInfo &info = m_reader->info();
    m_done = 0;
    m_perBin = 1;
    m_bins.clear();
    m_watch = std::make_unique<CollapseWatch>(info.numLayers, info.numExperts, m_alertWindow, info.capacityFactor);
    m_latest.assign(info.numLayers, LayerStepHealth{});
    m_lastStep = 0;
    // Wide models get fewer bins: at most about 8 M counts (64 MB) whatever L x E.
    m_binLimit = std::min(m_maxBins, std::max<std::size_t>(64, (std::size_t(8) << 20) / (info.numLayers * info.numExperts)));
}

LivePoll LiveRunState::poll()
{
    LivePoll news;
    if (!m_reader) {
        // The first open goes through the helper process (io/DumpPreflight.h), as a
        // dump's does: a file damaged so that HDF5 itself crashes becomes an error.
        io::preflightRunLog(m_path);
        m_reader = std::make_unique<RunLogReader>(m_path);
        restart();
    } else {
        const RunLogReader::Change change = m_reader->refresh();
        if (change == RunLogReader::Change::Replaced || change == RunLogReader::Change::Reopened) {
            news.replaced = true;
            restart();
        }
    }
    // Asked before reading: a writer seen closed here has nothing more to add.
    news.writerOpen = m_reader->writerOpen();
    const RunLogInfo &info = m_reader->info();
    const std::size_t L = info.numLayers, E = info.numExperts;
    const std::size_t n = m_reader->numSteps();
    const std::size_t perBlock = std::max<std::size_t>(1, (std::size_t(4) << 20) / (L * E));
    while (m_done < n) {
        const std::size_t count = std::min(perBlock, n - m_done);
        const auto steps = m_reader->steps(m_done, count);
        const auto counts = info.hasCounts ? m_reader->counts(m_done, count) : std::vector<std::int64_t>{};
        const auto lb = m_reader->series(RunLogSeries::LbLoss, m_done, count);
        const auto z = m_reader->series(RunLogSeries::ZLoss, m_done, count);
        const auto vio = m_reader->series(RunLogSeries::MaxVio, m_done, count);
        for (std::size_t i = 0; i < count; ++i)
            add(steps[i], counts.empty() ? nullptr : counts.data() + i * L * E, lb.data() + i * L, z.data() + i * L,
                vio.data() + i * L);
        m_done += count;
        news.grew = true;
    }
    news.steps = m_done;
    news.lastStep = m_lastStep;
    news.alert = m_watch->alert();
    news.latest = m_latest;
    news.layerNames = info.layerNames;
    if (news.grew || news.replaced)
        news.snapshot = snapshot();
    return news;
}

void LiveRunState::add(std::int64_t step, const std::int64_t *counts, const double *lb, const double *z,
                       const double *maxVio)
{
    const RunLogInfo &info = m_reader->info();
    const std::size_t L = info.numLayers, E = info.numExperts;
    m_watch->add(step, counts, counts ? nullptr : maxVio);
    for (std::size_t l = 0; l < L; ++l) {
        if (counts) {
            m_latest[l] = layerStepHealth(counts + l * E, E, info.capacityFactor);
        } else {
            m_latest[l] = LayerStepHealth{};
            m_latest[l].cv = std::nan("");
            m_latest[l].maxVio = maxVio[l];
            m_latest[l].maxVioCollapse = maxVio[l] > 2;
        }
    }
    m_lastStep = step;
    if (m_bins.empty() || m_bins.back().records >= m_perBin) {
        Bin b;
        b.counts.assign(L * E, 0);
        b.lbSum.assign(L, 0);
        b.zSum.assign(L, 0);
        b.lbN.assign(L, 0);
        b.zN.assign(L, 0);
        m_bins.push_back(std::move(b));
    }
    Bin &b = m_bins.back();
    b.lastStep = step;
    ++b.records;
    if (counts)
        for (std::size_t i = 0; i < L * E; ++i)
            b.counts[i] += counts[i];
    for (std::size_t l = 0; l < L; ++l) {
        if (std::isfinite(lb[l])) {
            b.lbSum[l] += lb[l];
            ++b.lbN[l];
        }
        if (std::isfinite(z[l])) {
            b.zSum[l] += z[l];
            ++b.zN[l];
        }
    }
    if (m_bins.size() > m_binLimit)
        mergePairs();
}

void LiveRunState::mergePairs()
{
    std::vector<Bin> merged;
    merged.reserve(m_bins.size() / 2 + 1);
    for (std::size_t i = 0; i < m_bins.size(); i += 2) {
        Bin b = std::move(m_bins[i]);
        if (i + 1 < m_bins.size()) {
            const Bin &next = m_bins[i + 1];
            b.lastStep = next.lastStep;
            b.records += next.records;
            for (std::size_t j = 0; j < b.counts.size(); ++j)
                b.counts[j] += next.counts[j];
            for (std::size_t l = 0; l < b.lbSum.size(); ++l) {
                b.lbSum[l] += next.lbSum[l];
                b.zSum[l] += next.zSum[l];
                b.lbN[l] += next.lbN[l];
                b.zN[l] += next.zN[l];
            }
        }
        merged.push_back(std::move(b));
    }
    m_bins = std::move(merged);
    m_perBin *= 2;
}

DumpSnapshotPtr LiveRunState::snapshot() const
{
    const RunLogInfo &info = m_reader->info();
    const std::size_t L = info.numLayers, E = info.numExperts, N = m_bins.size();
    auto s = std::make_shared<DumpSnapshot>();
    s->path = QString::fromStdString(m_path);
    DumpInfo &di = s->analysis.info;
    di.path = m_path;
    di.numExperts = int(E);
    di.topK = info.topK;
    di.model = info.model;
    for (const std::string &name : info.layerNames) {
        LayerInfo layer;
        layer.name = name;
        di.layers.push_back(std::move(layer));
    }
    TrainingSeries t;
    t.numLayers = L;
    t.numExperts = E;
    t.steps.reserve(N);
    const double nan = std::nan("");
    const bool lb = info.hasLbLoss, z = info.hasZLoss;
    for (const Bin &b : m_bins) {
        t.steps.push_back(b.lastStep); // a bin is drawn at its newest step
        for (std::size_t l = 0; l < L; ++l) {
            if (lb)
                t.lbLoss.push_back(b.lbN[l] ? b.lbSum[l] / b.lbN[l] : nan);
            if (z)
                t.zLoss.push_back(b.zN[l] ? b.zSum[l] / b.zN[l] : nan);
        }
        if (info.hasCounts)
            for (std::int64_t c : b.counts) // the mean step of the bin: the load ratios are the same
                t.tokensPerExpert.push_back((c + std::int64_t(b.records) / 2) / std::int64_t(b.records));
    }
    s->analysis.training = std::move(t);
    return s;
}

} // namespace moescope::ui
