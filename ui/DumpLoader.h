#pragma once
// Opens a dump in the background and reports in stages, as heaptrack's parser does:
// opened() as soon as the schema is checked (the title and status bar fill in), then
// layerAnalysed() with a partial snapshot as each layer's statistics are ready (the
// overview paints the first layers while the rest load), then loaded() with the full
// analysis, or failed() with the reader's message. Opening a second file while the
// first is still loading abandons the first. A dump analysed before is in the summary
// cache (core/analysis/SummaryCache.h): opened() and its whole overview (one
// layerAnalysed() with every layer) come from there at once, before the dump is even
// opened; then opened() again from the dump itself, and the choices are read for the
// other views.
#include "DumpSnapshot.h"
#include "analysis/SummaryCache.h"

#include <QObject>

namespace moescope::ui {

class JobSlot;

class DumpLoader : public QObject {
    Q_OBJECT
public:
    explicit DumpLoader(QObject *parent = nullptr);

    void open(const QString &path);
    void cancel();
    JobSlot *job() const { return m_job; }
    QString pendingPath() const { return m_pending; }
    // The summary cache on or off (the setting "cache/summaries", on by default).
    bool usesCache() const { return m_useCache; }
    void setUseCache(bool on);

signals:
    void opened(const QString &path, const moescope::DumpInfo &info);
    void layerAnalysed(const moescope::ui::DumpSnapshotPtr &partial, int layersDone, int layers);
    void loaded(const moescope::ui::DumpSnapshotPtr &snapshot);
    void failed(const QString &path, const QString &message);

private:
    void showCached(const QString &path, CachedSummary cached);
    void analyse(const QString &path, std::shared_ptr<const RoutingDump> dump);
    void keepLayers(const DumpSnapshotPtr &snapshot);

    JobSlot *m_job;
    JobSlot *m_keep; // reads the layers into memory in the background once a dump is shown
    QString m_pending;
    bool m_useCache = true;
    std::shared_ptr<const DumpReport> m_cached; // this open's overview, when the cache had it
    std::shared_ptr<const DumpSnapshot> m_partial; // the layers of the loading dump so far
};

} // namespace moescope::ui
