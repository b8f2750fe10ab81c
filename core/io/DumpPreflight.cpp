#include "io/DumpPreflight.h"

#include "io/DumpError.h"
#include "io/RoutingDump.h"
#include "io/RunLog.h"

#include <signal.h>
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <thread>
#include <vector>

extern char **environ;

namespace moescope::io {

namespace {

std::chrono::milliseconds timeLimit()
{
    const char *seconds = std::getenv("MOESCOPE_PREFLIGHT_SECONDS");
    const double s = seconds ? std::atof(seconds) : 0.0;
    return std::chrono::milliseconds(s > 0 ? static_cast<long long>(s * 1000) : 30000);
}

bool isExecutable(const std::filesystem::path &p)
{
    std::error_code ec;
    return std::filesystem::is_regular_file(p, ec) && access(p.c_str(), X_OK) == 0;
}

std::filesystem::path thisProgramDir()
{
    std::error_code ec;
    const std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe", ec);
    return ec ? std::filesystem::path() : self.parent_path();
}

// Kills and reaps the helper when the wait ends early (cancel, time limit, exception).
struct ChildGuard {
    pid_t pid = -1;
    ~ChildGuard()
    {
        if (pid > 0) {
            kill(pid, SIGKILL);
            int status = 0;
            waitpid(pid, &status, 0);
        }
    }
};

pid_t spawnHelper(const std::string &program, const std::string &path, bool runLog)
{
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    // The helper has nothing to say: its exit status is the answer.
    for (int fd : {0, 1, 2})
        posix_spawn_file_actions_addopen(&actions, fd, "/dev/null", fd == 0 ? O_RDONLY : O_WRONLY, 0);
    // Nothing else of this process: HDF5 opens files without close-on-exec, and a
    // helper that hangs must not hold the user's other dumps open meanwhile.
    posix_spawn_file_actions_addclosefrom_np(&actions, 3);
    posix_spawnattr_t attributes;
    posix_spawnattr_init(&attributes);
    // A crash must end the helper plainly, whatever this process does with signals.
    sigset_t defaults, none;
    sigemptyset(&defaults);
    for (int s : {SIGSEGV, SIGBUS, SIGABRT, SIGFPE, SIGILL, SIGTERM, SIGPIPE})
        sigaddset(&defaults, s);
    sigemptyset(&none);
    posix_spawnattr_setsigdefault(&attributes, &defaults);
    posix_spawnattr_setsigmask(&attributes, &none);
    posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);

    std::string arg0 = program, flag = kPreflightRunLogFlag, file = path;
    char *dumpArgv[] = {arg0.data(), file.data(), nullptr};
    char *runLogArgv[] = {arg0.data(), flag.data(), file.data(), nullptr};
    char **argv = runLog ? runLogArgv : dumpArgv;
    pid_t pid = -1;
    const int error = posix_spawn(&pid, program.c_str(), &actions, &attributes, argv, environ);
    posix_spawnattr_destroy(&attributes);
    posix_spawn_file_actions_destroy(&actions);
    if (error != 0)
        throw DumpError(path, "", "could not start the file check " + program + ": " + std::strerror(error));
    return pid;
}

void preflight(const std::string &path, const Progress &progress, bool runLog);

} // namespace

std::string preflightProgram()
{
    if (const char *set = std::getenv("MOESCOPE_PREFLIGHT_PROGRAM"); set && *set)
        return set;
    const std::filesystem::path here = thisProgramDir();
    std::vector<std::filesystem::path> candidates;
    if (!here.empty()) {
        candidates.push_back(here / "moescope-preflight");
#ifdef MOESCOPE_LIBEXEC_FROM_BINDIR
        candidates.push_back(here / MOESCOPE_LIBEXEC_FROM_BINDIR / "moescope-preflight");
#endif
        candidates.push_back(here / ".." / "libexec" / "moescope" / "moescope-preflight");
    }
#ifdef MOESCOPE_PREFLIGHT_BUILD_PATH
    candidates.emplace_back(MOESCOPE_PREFLIGHT_BUILD_PATH);
#endif
    for (const auto &c : candidates)
        if (isExecutable(c))
            return c.lexically_normal().string();
    return {};
}

void preflightDump(const std::string &path, const Progress &progress)
{
    preflight(path, progress, false);
}

void preflightRunLog(const std::string &path, const Progress &progress)
{
    preflight(path, progress, true);
}

namespace {

void preflight(const std::string &path, const Progress &progress, bool runLog)
{
    const std::string program = preflightProgram();
    if (program.empty())
        throw DumpError(path, "",
                        "cannot check the file before opening it: the helper program moescope-preflight is missing "
                        "(it belongs beside moescope or in libexec/moescope; reinstall MoE Scope, or set "
                        "MOESCOPE_PREFLIGHT_PROGRAM)");
    const std::chrono::milliseconds limit = timeLimit();
    ChildGuard child{spawnHelper(program, path, runLog)};
    const auto start = std::chrono::steady_clock::now();
    int status = 0;
    // Looked at every few milliseconds: the helper takes a fifth of a second on a large
    // dump, and each millisecond after it ended is added to the open.
    for (auto pause = std::chrono::milliseconds(1);; pause = std::min(pause * 2, std::chrono::milliseconds(4))) {
        const pid_t done = waitpid(child.pid, &status, WNOHANG);
        if (done == child.pid) {
            child.pid = -1;
            break;
        }
        if (done < 0 && errno != EINTR) {
            child.pid = -1; // reaped elsewhere (a SIGCHLD handler set to ignore): nothing to wait for
            return;
        }
        progress.checkCancelled();
        const auto waited = std::chrono::steady_clock::now() - start;
        if (waited > limit)
            throw DumpError(path, "",
                            "reading the file's structure did not finish in " +
                                std::to_string((limit.count() + 999) / 1000) +
                                " s (HDF5 loops on damaged files): the file is probably damaged");
        progress.report(std::min(0.9, double(waited.count()) / double(std::chrono::nanoseconds(limit).count())));
        std::this_thread::sleep_for(pause);
    }
    if (WIFSIGNALED(status))
        throw DumpError(path, "",
                        std::string("HDF5 crashed while reading the file's structure (") + strsignal(WTERMSIG(status)) +
                            "): the file is damaged");
    if (WIFEXITED(status) && WEXITSTATUS(status) == 127)
        throw DumpError(path, "", "could not run the file check " + program);
    // Only the helper's own answers count: a crash that a runtime turned into an exit
    // status (AddressSanitizer exits 1 on SIGSEGV) must not pass for "refused", or this
    // process would open the file and meet the same crash.
    if (WIFEXITED(status) && WEXITSTATUS(status) != kPreflightOpened && WEXITSTATUS(status) != kPreflightRefused)
        throw DumpError(path, "",
                        "HDF5 failed while reading the file's structure (the check ended with status " +
                            std::to_string(WEXITSTATUS(status)) + "): the file is damaged");
}

} // namespace

int runPreflightChild(const std::string &path)
{
    try {
        const RoutingDump dump(path);
        dump.readVocab();
    } catch (...) {
        return kPreflightRefused;
    }
    return kPreflightOpened;
}

int runRunLogPreflightChild(const std::string &path)
{
    // What watch and the follow window read first: the layout, then every series of
    // the first and the last records.
    try {
        RunLogReader log(path);
        const RunLogInfo &info = log.info();
        const std::size_t n = log.numSteps(), count = std::min<std::size_t>(n, 8);
        for (const std::size_t begin : {std::size_t(0), n - count}) {
            log.steps(begin, count);
            if (info.hasCounts)
                log.counts(begin, count);
            for (const RunLogSeries s :
                 {RunLogSeries::LbLoss, RunLogSeries::ZLoss, RunLogSeries::MaxVio, RunLogSeries::DroppedFraction})
                log.series(s, begin, count);
        }
    } catch (...) {
        return kPreflightRefused;
    }
    return kPreflightOpened;
}

} // namespace moescope::io
