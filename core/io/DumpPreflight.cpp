#include "io/DumpPreflight.h"

#include "io/DumpError.h"
#include "io/Hdf5Door.h"
#include "io/RoutingDump.h"

#if __has_include(<sys/wait.h>)
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>
#define MOESCOPE_HAVE_FORK 1
#endif

#include <cstdlib>
#include <cstring>
#include <thread>

namespace moescope::io {

#if MOESCOPE_HAVE_FORK

namespace {
std::chrono::milliseconds timeLimit()
{
    const char *seconds = std::getenv("MOESCOPE_PREFLIGHT_SECONDS");
    const double s = seconds ? std::atof(seconds) : 0.0;
    return std::chrono::milliseconds(s > 0 ? static_cast<long long>(s * 1000) : 30000);
}
} // namespace

void preflightDump(const std::string &path)
{
    const std::chrono::milliseconds limit = timeLimit();
    pid_t child = -1;
    {
        // Forked while holding the HDF5 lock, so no other thread of ours is inside
        // HDF5 and the child inherits it in a consistent state.
        auto lock = hdf5Lock();
        child = fork();
        if (child == 0) {
            lock.release(); // the child's lock is a new one (the parent still unlocks its own)
            freshHdf5LockInChild();
            // Die of a crash plainly: no test harness or mapping handler in the child.
            for (int s : {SIGSEGV, SIGBUS, SIGABRT, SIGFPE, SIGILL})
                signal(s, SIG_DFL);
            try {
                const RoutingDump dump(path);
                dump.readVocab();
            } catch (...) {
                _exit(1);
            }
            _exit(0);
        }
    }
    if (child < 0)
        return; // no process to spare: open it here as before
    const auto deadline = std::chrono::steady_clock::now() + limit;
    int status = 0;
    for (auto pause = std::chrono::milliseconds(1);; pause = std::min(pause * 2, std::chrono::milliseconds(50))) {
        const pid_t done = waitpid(child, &status, WNOHANG);
        if (done == child)
            break;
        if (done < 0)
            return;
        if (std::chrono::steady_clock::now() > deadline) {
            kill(child, SIGKILL);
            waitpid(child, &status, 0);
            throw DumpError(path, "",
                            "reading the file's structure did not finish in " +
                                std::to_string((limit.count() + 999) / 1000) +
                                " s (HDF5 loops on damaged files): the file is probably damaged");
        }
        std::this_thread::sleep_for(pause);
    }
    if (WIFSIGNALED(status))
        throw DumpError(path, "",
                        std::string("HDF5 crashed while reading the file's structure (") + strsignal(WTERMSIG(status)) +
                            "): the file is damaged");
}

#else

void preflightDump(const std::string &) {}

#endif

} // namespace moescope::io
