#include "RoutingMapBins.h"

#include "JobSlot.h"

#include <algorithm>
#include <cmath>

namespace moescope::ui {

namespace {
constexpr std::int64_t kSyncWork = 400'000; // positions x layers binned on the GUI thread (a few ms)

bool sameRequest(const RoutingWindowRequest &a, const RoutingWindowRequest &b)
{
    return a.begin == b.begin && a.end == b.end && a.columns == b.columns &&
           a.highlightExpert == b.highlightExpert;
}
} // namespace

RoutingWindowRequest routingMapRequest(const DumpSnapshot &snapshot, std::int64_t sequence, double begin,
                                       double ppt, int mapWidth, int highlightExpert)
{
    RoutingWindowRequest r;
    const std::int64_t seqBegin = snapshot.sequenceBegin(sequence);
    const std::int64_t n = snapshot.sequenceEnd(sequence) - seqBegin;
    std::int64_t first = std::clamp<std::int64_t>(std::int64_t(std::floor(begin)), 0, n);
    std::int64_t last =
        std::clamp<std::int64_t>(std::int64_t(std::ceil(begin + mapWidth / ppt)) + 1, first, n);
    int columns = std::max(1, mapWidth);
    if (last - first > columns) {
        // Bins on a fixed grid, so scrolling moves whole bins and the colours hold still.
        const std::int64_t bin = (last - first + columns - 1) / columns;
        first = first / bin * bin;
        columns = int((last - first + bin - 1) / bin);
        last = std::min(n, first + std::int64_t(columns) * bin);
        columns = int((last - first + bin - 1) / bin);
    }
    r.begin = seqBegin + first;
    r.end = seqBegin + last;
    r.columns = std::max(1, columns);
    r.highlightExpert = highlightExpert;
    return r;
}

RoutingWindow binRoutingMap(const DumpSnapshot &snapshot, const RoutingWindowRequest &request,
                            const Progress &progress)
{
    // One layer at a time, so that a dump whose layers do not all fit in memory is
    // read layer by layer (the store reads nothing when they all are in memory). Then
    // a window much shorter than the dump reads only its own positions of each layer
    // that is not in memory, rather than the whole layer.
    const std::size_t L = snapshot.analysis.numLayers();
    if (L == 0)
        return binRoutingWindow({}, request, progress);
    const LayerStore &store = *snapshot.analysis.layers;
    const std::int64_t count = request.end - request.begin;
    const bool ranged = !store.allResident() && count <= snapshot.analysis.info.numTokens / 4;
    RoutingWindowRequest shifted = request; // the slice's row 0 is request.begin
    shifted.begin = 0;
    shifted.end = count;
    std::vector<RoutingWindow> rows(L);
    const std::vector<std::size_t> order = store.residentFirst();
    for (std::size_t i = 0; i < order.size(); ++i) {
        const Progress part = progress.part(double(i) / double(L), double(i + 1) / double(L));
        if (ranged) {
            const LayerChoices slice = store.slice(order[i], request.begin, count, part.part(0, 0.9));
            rows[order[i]] = binRoutingWindow({&slice}, shifted, part.part(0.9, 1));
        } else {
            const LayerPassPtr pass = snapshot.analysis.pass(order[i], part.part(0, 0.9));
            rows[order[i]] = binRoutingWindow({&pass->choices}, request, part.part(0.9, 1));
        }
    }
    RoutingWindow w = rows[0];
    w.begin = request.begin;
    w.end = request.end;
    w.layers = int(L);
    for (std::size_t l = 1; l < L; ++l) {
        w.expert.insert(w.expert.end(), rows[l].expert.begin(), rows[l].expert.end());
        w.highlight.insert(w.highlight.end(), rows[l].highlight.begin(), rows[l].highlight.end());
    }
    return w;
}

RoutingMapBinner::RoutingMapBinner(QObject *parent)
    : QObject(parent), m_job(new JobSlot(tr("Routing map"), this))
{
}

void RoutingMapBinner::reset()
{
    m_job->discard();
    m_window.reset();
    m_pending = false;
}

void RoutingMapBinner::request(const DumpSnapshotPtr &snapshot, const RoutingWindowRequest &r)
{
    if (snapshot != m_snapshot) {
        reset();
        m_snapshot = snapshot;
    }
    if ((m_window || m_pending) && sameRequest(r, m_request))
        return;
    m_request = r;
    const std::int64_t work = (r.end - r.begin) * snapshot->numLayers();
    if (work <= kSyncWork && snapshot->analysis.layers && snapshot->analysis.layers->allResident()) {
        m_job->discard();
        m_pending = false;
        m_window = binRoutingMap(*snapshot, r);
        return;
    }
    m_pending = true;
    m_job->start<RoutingWindow>(
        [snapshot, r](const Progress &progress) { return binRoutingMap(*snapshot, r, progress); },
        [this, snapshot](RoutingWindow window) {
            if (snapshot != m_snapshot)
                return;
            m_pending = false;
            m_window = std::move(window);
            emit windowReady();
        });
}

} // namespace moescope::ui
