#include "DumpLoader.h"

#include "JobSlot.h"
#include "io/OpenDump.h"

#include <QFileInfo>

namespace moescope::ui {

DumpLoader::DumpLoader(QObject *parent) : QObject(parent), m_job(new JobSlot(tr("Opening"), this)) {}

void DumpLoader::open(const QString &path)
{
    m_pending = path;
    m_job->setLabel(tr("Opening %1").arg(QFileInfo(path).fileName()));
    using DumpPtr = std::shared_ptr<const RoutingDump>;
    m_job->start<DumpPtr>(
        [path](const Progress &progress) { return openDump(path.toStdString(), progress); },
        [this, path](DumpPtr dump) {
            emit opened(path, dump->info());
            analyse(path, std::move(dump));
        },
        [this, path](const QString &message) {
            m_pending.clear();
            emit failed(path, message);
        });
}

void DumpLoader::cancel()
{
    m_pending.clear();
    m_job->cancel();
}

void DumpLoader::analyse(const QString &path, std::shared_ptr<const RoutingDump> dump)
{
    m_job->setLabel(tr("Analysing %1").arg(QFileInfo(path).fileName()));
    m_job->start<DumpSnapshotPtr>(
        [path, dump](const Progress &progress) -> DumpSnapshotPtr {
            auto snapshot = std::make_shared<DumpSnapshot>();
            snapshot->path = path;
            snapshot->analysis = analyzeDump(*dump, {}, progress);
            snapshot->dump = dump;
            snapshot->tokenPositions(); // indexed here, off the GUI thread
            return snapshot;
        },
        [this](DumpSnapshotPtr snapshot) {
            m_pending.clear();
            emit loaded(snapshot);
        },
        [this, path](const QString &message) {
            m_pending.clear();
            emit failed(path, message);
        });
}

} // namespace moescope::ui
