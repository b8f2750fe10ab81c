#include "DumpLoader.h"

#include "Engines.h"
#include "JobSlot.h"
#include "analysis/SummaryCache.h"
#include "io/OpenDump.h"

#include <QFileInfo>
#include <QSettings>

namespace moescope::ui {

DumpLoader::DumpLoader(QObject *parent)
    : QObject(parent), m_job(new JobSlot(tr("Opening"), this)), m_keep(new JobSlot(tr("Keeping layers"), this))
{
    m_useCache = QSettings().value(QStringLiteral("cache/summaries"), true).toBool();
}

void DumpLoader::setUseCache(bool on)
{
    m_useCache = on;
    QSettings().setValue(QStringLiteral("cache/summaries"), on);
}

namespace {
// The request the window analyses a dump with: the recorded routing, every layer. The
// cache lookup before the open and the pass after it must key alike.
AnalysisRequest overviewRequest(RoutingBackend *backend)
{
    AnalysisRequest request;
    request.backend = backend;
    return request;
}
} // namespace

void DumpLoader::open(const QString &path)
{
    m_keep->discard();
    m_pending = path;
    m_partial.reset();
    m_cached.reset();
    m_job->setLabel(tr("Opening %1").arg(QFileInfo(path).fileName()));
    using DumpPtr = std::shared_ptr<const RoutingDump>;
    // A dump seen before shows its overview from the summary cache at once, before the
    // preflight and the open (which read every token id: seconds at 10 M tokens).
    m_job->startStaged<DumpPtr, CachedSummary>(
        [path, useCache = m_useCache](const Progress &progress,
                                      const std::function<void(CachedSummary)> &post) -> DumpPtr {
            const std::string file = path.toStdString();
            const SummaryCache cache = useCache ? SummaryCache::standard() : SummaryCache{};
            if (std::optional<CachedSummary> cached = cache.load(file, overviewRequest(nullptr)))
                post(std::move(*cached));
            return openDump(file, progress);
        },
        [this, path](CachedSummary cached) { showCached(path, std::move(cached)); },
        [this, path](DumpPtr dump) {
            emit opened(path, dump->info());
            analyse(path, std::move(dump));
        },
        [this, path](const QString &message) {
            m_pending.clear();
            m_partial.reset();
            emit failed(path, message);
        });
}

void DumpLoader::showCached(const QString &path, CachedSummary cached)
{
    emit opened(path, cached.info);
    auto partial = std::make_shared<DumpSnapshot>();
    partial->path = path;
    partial->partial = true;
    partial->analysis.info = std::move(cached.info);
    partial->analysis.report = std::move(cached.report);
    partial->analysis.report.warnings = partial->analysis.info.warnings;
    m_cached = std::shared_ptr<const DumpReport>(partial, &partial->analysis.report); // analyse() starts from it
    const int layers = partial->numLayers();
    emit layerAnalysed(partial, layers, layers);
}

void DumpLoader::cancel()
{
    m_pending.clear();
    m_partial.reset();
    m_job->discard();
    m_keep->discard();
}

void DumpLoader::keepLayers(const DumpSnapshotPtr &snapshot)
{
    // Quietly, once the dump is shown: every layer that fits the memory budget compact
    // (LayerStore::keepCompact), so the token search and the views need not read it
    // again. A layer it cannot read is left to the view that needs it to report.
    const std::shared_ptr<const LayerStore> store = snapshot ? snapshot->analysis.layers : nullptr;
    if (!store)
        return;
    // At normal priority: a pool thread once set to QThread::IdlePriority stays at
    // SCHED_IDLE (Qt sets the priority back within the thread's present policy, and
    // Linux lets an unprivileged thread leave SCHED_IDLE only within RLIMIT_NICE), so
    // the next job on it, a dump's analysis, starved on a busy machine.
    m_keep->start<std::size_t>([store](const Progress &progress) { return store->keepCompact(progress); },
                               [](std::size_t) {}, [](const QString &) {});
}

void DumpLoader::analyse(const QString &path, std::shared_ptr<const RoutingDump> dump)
{
    m_job->setLabel(tr("Analysing %1").arg(QFileInfo(path).fileName()));
    // The partial snapshots share nothing with the worker: each holds a copy of the
    // reports so far (small: E counts and a few numbers per layer).
    auto partial = std::make_shared<DumpSnapshot>();
    partial->path = path;
    partial->dump = dump;
    partial->partial = true;
    partial->analysis.info = dump->info();
    DumpReport &report = partial->analysis.report; // as the pipeline heads its report
    report.file = dump->info().path;
    report.tokens = dump->info().numTokens;
    report.numExperts = dump->info().numExperts;
    report.topK = dump->info().topK;
    report.capacityFactor = effectiveCapacityFactor(dump->info(), std::nullopt);
    report.warnings = dump->info().warnings;
    m_partial = partial;
    const std::shared_ptr<RoutingBackend> backend = Engines::instance().cpu();
    // Layers arrive in batches: one layer at a time from the pass, all at once from the
    // summary cache (58 arrivals each redrawing the overview took seconds at 1 M tokens).
    using Layers = std::vector<LayerReport>;
    m_job->startStaged<DumpSnapshotPtr, Layers>(
        [path, dump, backend, useCache = m_useCache, early = m_cached](
            const Progress &progress, const std::function<void(Layers)> &post) -> DumpSnapshotPtr {
            auto snapshot = std::make_shared<DumpSnapshot>();
            snapshot->path = path;
            const AnalysisRequest request = overviewRequest(backend.get());
            const SummaryCache cache = useCache ? SummaryCache::standard() : SummaryCache{};
            const std::string file = dump->info().path;
            // The cached report open() found and showed is the whole overview already;
            // the pass below is for the other views.
            const DumpReport *cached = early.get();
            if (cached && !LayerStore::allFit(dump->info(), layerMemoryBudget())) {
                // Too large to keep its layers anyway: the cached report is the whole
                // first pass, and the views read layers when they need them.
                snapshot->analysis = analysisFromReport(dump, *cached, layerMemoryBudget());
                snapshot->dump = dump;
                snapshot->tokenPositions();
                return snapshot;
            }
            snapshot->analysis = analyzeDump(
                dump, request, progress,
                [&post, &cached](const LayerAnalysis &layer) {
                    if (!cached)
                        post({layer.report});
                },
                layerMemoryBudget());
            if (!cached)
                cache.store(file, request, dump->info(), snapshot->analysis.report);
            snapshot->dump = dump;
            snapshot->tokenPositions(); // indexed here, off the GUI thread
            return snapshot;
        },
        [this](Layers layers) {
            if (!m_partial)
                return;
            auto next = std::make_shared<DumpSnapshot>(*m_partial);
            for (LayerReport &layer : layers)
                next->analysis.report.layers.push_back(std::move(layer));
            m_partial = next;
            emit layerAnalysed(next, next->numLayers(), int(next->info().layers.size()));
        },
        [this](DumpSnapshotPtr snapshot) {
            m_pending.clear();
            m_partial.reset();
            emit loaded(snapshot);
            keepLayers(snapshot);
        },
        [this, path](const QString &message) {
            m_pending.clear();
            m_partial.reset();
            emit failed(path, message);
        });
}

} // namespace moescope::ui
