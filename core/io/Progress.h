#pragma once
// How long calls report progress and notice cancellation. Calls are synchronous; the
// caller picks the thread, sets the flag to cancel, and gets Cancelled thrown back.
#include "io/DumpError.h"

#include <atomic>
#include <functional>

namespace moescope {

class Progress {
public:
    Progress() = default;
    Progress(std::function<void(double)> report, const std::atomic<bool> *cancel)
        : m_report(std::move(report)), m_cancel(cancel) {}

    // fraction in [0, 1] of this call's work.
    void report(double fraction) const
    {
        if (m_report)
            m_report(m_begin + (m_end - m_begin) * fraction);
    }
    void checkCancelled() const
    {
        if (m_cancel && m_cancel->load(std::memory_order_relaxed))
            throw Cancelled();
    }
    // The same cancel flag with no reporting: for helper threads, whose reports would
    // interleave with the caller's.
    Progress quiet() const
    {
        Progress p;
        p.m_cancel = m_cancel;
        return p;
    }
    // The part [begin, end] of this call's range, for a sub-step.
    Progress part(double begin, double end) const
    {
        Progress p = *this;
        p.m_begin = m_begin + (m_end - m_begin) * begin;
        p.m_end = m_begin + (m_end - m_begin) * end;
        return p;
    }

private:
    std::function<void(double)> m_report;
    const std::atomic<bool> *m_cancel = nullptr;
    double m_begin = 0, m_end = 1;
};

} // namespace moescope
