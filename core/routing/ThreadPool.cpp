#include "routing/ThreadPool.h"

#include <utility>

namespace moescope {

ThreadPool::ThreadPool(unsigned threads)
{
    for (unsigned i = 1; i < threads; ++i)
        m_workers.emplace_back([this] { workerLoop(); });
}

ThreadPool::~ThreadPool()
{
    {
        std::lock_guard lock(m_mutex);
        m_stop = true;
    }
    m_wake.notify_all();
    for (auto &w : m_workers)
        w.join();
}

// Takes parts until none are left; every thread of the job runs this.
void ThreadPool::drain()
{
    std::unique_lock lock(m_mutex);
    while (m_task && m_next < m_count) {
        const std::size_t i = m_next++;
        const auto *task = m_task;
        lock.unlock();
        try {
            (*task)(i);
        } catch (...) {
            lock.lock();
            if (!m_error)
                m_error = std::current_exception();
            lock.unlock();
        }
        lock.lock();
        if (++m_finished == m_count)
            m_done.notify_all();
    }
}

void ThreadPool::workerLoop()
{
    unsigned long seen = 0;
    for (;;) {
        {
            std::unique_lock lock(m_mutex);
            m_wake.wait(lock, [&] { return m_stop || m_generation != seen; });
            if (m_stop)
                return;
            seen = m_generation;
        }
        drain();
    }
}

void ThreadPool::run(std::size_t count, const std::function<void(std::size_t)> &task)
{
    if (count == 0)
        return;
    if (m_workers.empty() || count == 1) {
        for (std::size_t i = 0; i < count; ++i)
            task(i);
        return;
    }
    {
        std::lock_guard lock(m_mutex);
        m_task = &task;
        m_count = count;
        m_next = m_finished = 0;
        m_error = nullptr;
        ++m_generation;
    }
    m_wake.notify_all();
    drain();
    std::unique_lock lock(m_mutex);
    m_done.wait(lock, [&] { return m_finished == m_count; });
    m_task = nullptr;
    if (m_error)
        std::rethrow_exception(std::exchange(m_error, nullptr));
}

} // namespace moescope
