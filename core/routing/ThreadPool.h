#pragma once
// A fixed set of worker threads that run the parts of one job at a time, so a backend
// does not start threads for every chunk. The calling thread works too.
//
// Thread-safety: run() is called from one thread at a time (the backend's caller).
#include <condition_variable>
#include <cstddef>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace moescope {

class ThreadPool {
public:
    // threads: how many threads run a job, the caller included (at least 1).
    explicit ThreadPool(unsigned threads);
    ~ThreadPool();
    ThreadPool(const ThreadPool &) = delete;
    ThreadPool &operator=(const ThreadPool &) = delete;

    unsigned size() const { return unsigned(m_workers.size()) + 1; }

    // Runs task(i) for every i in [0, count), spread over the threads; returns when all
    // are done. The first exception a task throws is rethrown here (the rest still run).
    void run(std::size_t count, const std::function<void(std::size_t)> &task);

private:
    void workerLoop();
    void drain();

    std::vector<std::thread> m_workers;
    std::mutex m_mutex;
    std::condition_variable m_wake, m_done;
    const std::function<void(std::size_t)> *m_task = nullptr;
    std::size_t m_count = 0, m_next = 0, m_finished = 0;
    unsigned long m_generation = 0;
    bool m_stop = false;
    std::exception_ptr m_error;
};

} // namespace moescope
