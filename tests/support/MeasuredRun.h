#pragma once
// Runs $MOESCOPE_BIN with arguments, stdout to /dev/null and stderr to a file, and
// measures it: exit code, stderr, wall time and peak memory (wait4's rusage of the
// child alone). For the hostile-size tests, which bound both.
#include <QString>
#include <QtGlobal>

#include <fcntl.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

extern char **environ;

namespace moescope::test {

struct Measured {
    int exitCode = -1;
    std::string err;
    double seconds = 0;
    long peakKb = 0;
};

// Runs $MOESCOPE_BIN with `args`, stderr to a file, and measures it.
inline Measured measure(const QString &dir, const std::vector<std::string> &args)
{
    const std::string bin = qEnvironmentVariable("MOESCOPE_BIN").toStdString();
    const std::string errPath = (dir + "/stderr.txt").toStdString();
    std::vector<char *> argv{const_cast<char *>(bin.c_str())};
    for (const auto &a : args)
        argv.push_back(const_cast<char *>(a.c_str()));
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&actions, 2, errPath.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    const auto start = std::chrono::steady_clock::now();
    pid_t pid = -1;
    Measured m;
    if (posix_spawn(&pid, bin.c_str(), &actions, nullptr, argv.data(), environ) != 0)
        return m;
    posix_spawn_file_actions_destroy(&actions);
    int status = 0;
    rusage usage{};
    wait4(pid, &status, 0, &usage);
    m.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    m.peakKb = usage.ru_maxrss;
    m.exitCode = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    std::ifstream in(errPath);
    std::stringstream text;
    text << in.rdbuf();
    m.err = text.str();
    return m;
}

} // namespace moescope::test
