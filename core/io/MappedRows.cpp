#include "io/MappedRows.h"

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <mutex>
#include <utility>

#if __has_include(<sys/mman.h>)
#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>
#define MOESCOPE_HAVE_MMAP 1
#ifndef MAP_POPULATE // Linux only: elsewhere the pages come in on first touch
#define MAP_POPULATE 0
#endif
#endif

namespace moescope::io {

#if MOESCOPE_HAVE_MMAP

namespace {

// The live windows, as the SIGBUS handler sees them: lock-free, since a handler may
// not take locks. A slot is claimed through `used`; `end` is written last and cleared
// first, and `generation` changes with every claim, so the handler can tell a window
// it read whole from one released and claimed again meanwhile.
struct Window {
    std::atomic<bool> used{false};
    std::atomic<std::uint64_t> generation{0};
    std::atomic<std::uintptr_t> begin{0}, end{0};
    std::atomic<bool> lost{false};
};
constexpr int kWindows = 64; // a pass keeps two or three; several passes may run at once
Window g_windows[kWindows];
struct sigaction g_previous {};

void onBusError(int signal, siginfo_t *info, void *context)
{
    const int savedErrno = errno;
    const auto at = reinterpret_cast<std::uintptr_t>(info->si_addr);
    for (Window &w : g_windows) {
        const std::uint64_t generation = w.generation.load();
        const std::uintptr_t end = w.end.load(std::memory_order_acquire), begin = w.begin.load();
        if (end == 0 || at < begin || at >= end || w.generation.load() != generation)
            continue;
        // Zero pages at the same addresses; the faulting read runs again and finds them.
        if (mmap(reinterpret_cast<void *>(begin), end - begin, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED,
                 -1, 0) != MAP_FAILED) {
            w.lost.store(true);
            errno = savedErrno;
            return;
        }
    }
    errno = savedErrno;
    if ((g_previous.sa_flags & SA_SIGINFO) && g_previous.sa_sigaction) {
        g_previous.sa_sigaction(signal, info, context);
        return;
    }
    if (!(g_previous.sa_flags & SA_SIGINFO) && g_previous.sa_handler != SIG_DFL && g_previous.sa_handler != SIG_IGN) {
        g_previous.sa_handler(signal);
        return;
    }
    // Not ours and nobody else's: die of it as without this handler. A fault comes
    // again when the access is retried; a signal sent by another process is raised
    // again (it stays pending until this handler returns).
    struct sigaction fallback {};
    fallback.sa_handler = SIG_DFL;
    sigaction(SIGBUS, &fallback, nullptr);
    if (info->si_code <= 0)
        raise(SIGBUS);
}

bool installHandler()
{
    static std::once_flag once;
    static bool installed = false;
    std::call_once(once, [] {
        struct sigaction action {};
        action.sa_sigaction = onBusError;
        action.sa_flags = SA_SIGINFO | SA_ONSTACK;
        sigemptyset(&action.sa_mask);
        installed = sigaction(SIGBUS, &action, &g_previous) == 0;
    });
    return installed;
}

int claimWindow(const void *base, std::size_t length)
{
    for (int i = 0; i < kWindows; ++i) {
        Window &w = g_windows[i];
        if (w.used.exchange(true))
            continue;
        w.generation.fetch_add(1);
        w.lost.store(false);
        w.begin.store(reinterpret_cast<std::uintptr_t>(base));
        w.end.store(reinterpret_cast<std::uintptr_t>(base) + length, std::memory_order_release);
        return i;
    }
    return -1;
}

} // namespace

MappedRows MappedRows::map(int fd, std::uint64_t offset, std::size_t length)
{
    MappedRows m;
    if (fd < 0 || length == 0 || !installHandler())
        return m;
    const auto page = std::uint64_t(sysconf(_SC_PAGESIZE));
    const std::uint64_t start = offset / page * page;
    const std::size_t lead = std::size_t(offset - start);
    void *base = mmap(nullptr, length + lead, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, off_t(start));
    if (base == MAP_FAILED)
        return m;
    // Whole pages: the handler replaces all of them.
    const std::size_t mapped = (length + lead + page - 1) / page * page;
    const int slot = claimWindow(base, mapped);
    if (slot < 0) { // unguarded it could crash: the caller reads instead
        munmap(base, mapped);
        return m;
    }
    m.m_base = base;
    m.m_mapped = mapped;
    m.m_data = static_cast<const char *>(base) + lead;
    m.m_slot = slot;
    return m;
}

bool MappedRows::lost() const { return m_slot >= 0 && g_windows[m_slot].lost.load(); }

void MappedRows::release()
{
    if (m_base) {
        Window &w = g_windows[m_slot];
        w.end.store(0, std::memory_order_release);
        w.begin.store(0);
        w.generation.fetch_add(1);
        munmap(m_base, m_mapped);
        w.used.store(false);
    }
    m_base = nullptr;
    m_data = nullptr;
    m_slot = -1;
}

#else // no mmap: never mapped, the reader reads

MappedRows MappedRows::map(int, std::uint64_t, std::size_t) { return {}; }

bool MappedRows::lost() const { return false; }

void MappedRows::release() {}

#endif

MappedRows::~MappedRows() { release(); }

MappedRows::MappedRows(MappedRows &&other) noexcept
    : m_base(std::exchange(other.m_base, nullptr)), m_mapped(std::exchange(other.m_mapped, 0)),
      m_data(std::exchange(other.m_data, nullptr)), m_slot(std::exchange(other.m_slot, -1))
{
}

MappedRows &MappedRows::operator=(MappedRows &&other) noexcept
{
    if (this != &other) {
        release();
        m_base = std::exchange(other.m_base, nullptr);
        m_mapped = std::exchange(other.m_mapped, 0);
        m_data = std::exchange(other.m_data, nullptr);
        m_slot = std::exchange(other.m_slot, -1);
    }
    return *this;
}

} // namespace moescope::io
