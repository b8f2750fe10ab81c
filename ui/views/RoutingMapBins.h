#pragma once
// The routing map's cells for what is on screen: which positions a view shows, as a
// binning request on a fixed grid (at most one column per pixel), and the jobs that
// bin it. Small windows are binned at once on the calling thread; big ones in the
// background, where the latest request wins and the previous window stays on show
// (drawn stretched to the new view) until the new one arrives.
#include "DumpSnapshot.h"
#include "analysis/RoutingWindow.h"

#include <QObject>

#include <optional>

namespace moescope::ui {

class JobSlot;

// The request for a view of `sequence` that starts `begin` positions into it, at `ppt`
// pixels per token over `mapWidth` pixels, highlighting `highlightExpert` (-1: none).
RoutingWindowRequest routingMapRequest(const DumpSnapshot &snapshot, std::int64_t sequence, double begin,
                                       double ppt, int mapWidth, int highlightExpert);
// Bins `request` over every layer of the snapshot. Any thread; throws Cancelled.
RoutingWindow binRoutingMap(const DumpSnapshot &snapshot, const RoutingWindowRequest &request,
                            const Progress &progress = {});

class RoutingMapBinner : public QObject {
    Q_OBJECT
public:
    explicit RoutingMapBinner(QObject *parent = nullptr);

    // Forgets the window and any job under way (another dump or sequence).
    void reset();
    // Asks for the window of `request`; nothing happens when it is the one shown or
    // the one already being binned.
    void request(const DumpSnapshotPtr &snapshot, const RoutingWindowRequest &request);
    // The latest window binned; null before the first.
    const RoutingWindow *window() const { return m_window ? &*m_window : nullptr; }

signals:
    // A window binned in the background has arrived.
    void windowReady();

private:
    DumpSnapshotPtr m_snapshot;
    std::optional<RoutingWindow> m_window;
    RoutingWindowRequest m_request{};
    bool m_pending = false;
    JobSlot *m_job;
};

} // namespace moescope::ui
