#include "Engines.h"

#include "routing/SharedBackend.h"

#include <QThread>

#include <algorithm>

namespace moescope::ui {

Engines &Engines::instance()
{
    static Engines engines;
    return engines;
}

Engines::Engines()
{
    // Jobs mostly wait: on the file, or on their turn at the backend, whose own
    // threads do the arithmetic. A few more of them than cores keeps a quick job
    // (a profile, a routing-map window) from queueing behind a long one.
    m_jobs.setMaxThreadCount(std::max(4, QThread::idealThreadCount()));
}

void Engines::finishJobs()
{
    instance().m_jobs.waitForDone();
    QThreadPool::globalInstance()->waitForDone(); // the import dialog's worker
}

std::shared_ptr<RoutingBackend> Engines::backend(Device device, std::string &notice)
{
    const std::lock_guard lock(m_mutex);
    auto it = m_backends.find(device);
    if (it == m_backends.end()) {
        Made made;
        made.backend = std::make_shared<SharedBackend>(makeBackend(device, made.notice));
        it = m_backends.emplace(device, std::move(made)).first;
    }
    notice = it->second.notice;
    return it->second.backend;
}

std::shared_ptr<RoutingBackend> Engines::cpu()
{
    std::string notice;
    return backend(Device::Cpu, notice);
}

} // namespace moescope::ui
