#pragma once
// The application's compute, shared by every background job: one thread pool that
// runs the jobs (JobSlot) and one routing backend per device, made on first use. A
// job asks for the backend of the user's device instead of starting an engine of its
// own; calls from several jobs take turns on it, chunk by chunk (SharedBackend).
//
// Thread-safety: every method may be called from any thread.
#include "routing/BackendFactory.h"

#include <QThreadPool>

#include <map>
#include <memory>
#include <mutex>
#include <string>

namespace moescope::ui {

class Engines {
public:
    static Engines &instance();

    QThreadPool *jobs() { return &m_jobs; }
    // Waits for the jobs still running (stopped ones finish at their next check). Call
    // before leaving main(), once the windows that started them are gone: HDF5 closes
    // itself at exit, before this pool's own destructor would wait, and a job still
    // reading a dump then met a closed library ("not a valid dataset identifier").
    static void finishJobs();

    // The backend for `device`, made on first use (makeBackend's rules: gpu throws when
    // OpenCL has no working device, auto falls back to the CPU). `notice` receives
    // what the user should be told about the choice, every time.
    std::shared_ptr<RoutingBackend> backend(Device device, std::string &notice);
    std::shared_ptr<RoutingBackend> cpu();

private:
    Engines();

    struct Made {
        std::shared_ptr<RoutingBackend> backend;
        std::string notice;
    };
    std::mutex m_mutex; // guards m_backends
    std::map<Device, Made> m_backends;
    QThreadPool m_jobs;
};

} // namespace moescope::ui
