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
    std::vector<const LayerChoices *> layers;
    for (const LayerPass &pass : snapshot.analysis.passes)
        layers.push_back(&pass.choices);
    return binRoutingWindow(layers, request, progress);
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
    if (work <= kSyncWork) {
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
