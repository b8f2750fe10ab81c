// `moescope import --format sglang`: SGLang's expert distribution dumps are torch
// pickles, and a pickle is never loaded here. The recorder's Python converter
// (python3 -m moescope_recorder.importers.sglang) reads them with PyTorch and writes
// the dump itself, through the recorder's atomic rule; this format runs it.
//
// SOURCE is a .pt file or a folder of them (per_token mode writes one per rank).
// The interpreter is $MOESCOPE_PYTHON, else python3 on the PATH. The package is
// found on its own path, or in $MOESCOPE_RECORDER_PATH, or (in a build tree) in the
// sources' tools/ folder.
#include "import/ImportFormats.h"
#include "io/DumpError.h"

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <poll.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

namespace moescope::import {

namespace {

struct Finished {
    int status = 0;
    std::string output; // stdout and stderr together
};

// Runs argv with `extraEnv` (NAME=value, replacing those names), collecting its output.
Finished run(const std::string &source, std::vector<std::string> argv,
             const std::vector<std::string> &extraEnv, const Progress &progress)
{
    std::vector<std::string> env = extraEnv;
    for (char **e = environ; *e; ++e) {
        const std::string entry = *e;
        const std::string name = entry.substr(0, entry.find('='));
        bool replaced = false;
        for (const std::string &x : extraEnv)
            replaced = replaced || x.compare(0, name.size() + 1, name + "=") == 0;
        if (!replaced)
            env.push_back(entry);
    }
    std::vector<char *> args, envp;
    for (std::string &a : argv)
        args.push_back(a.data());
    args.push_back(nullptr);
    for (std::string &e : env)
        envp.push_back(e.data());
    envp.push_back(nullptr);

    int fds[2];
    if (pipe(fds) != 0)
        throw DumpError(source, "", std::string("cannot start the converter: ") + std::strerror(errno));
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&actions, fds[1], 1);
    posix_spawn_file_actions_adddup2(&actions, fds[1], 2);
    posix_spawn_file_actions_addclosefrom_np(&actions, 3);
    pid_t pid = -1;
    const int error = posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), envp.data());
    posix_spawn_file_actions_destroy(&actions);
    close(fds[1]);
    if (error != 0) {
        close(fds[0]);
        throw DumpError(source, "",
                        "is a torch pickle (SGLang): converting it needs Python 3 with PyTorch, and '" +
                            argv[0] + "' could not be started (" + std::strerror(error) +
                            "); install python3 and python3-torch, or set MOESCOPE_PYTHON");
    }
    Finished done;
    char buffer[4096];
    while (true) {
        pollfd p{fds[0], POLLIN, 0};
        const int ready = poll(&p, 1, 100);
        if (ready > 0) {
            const ssize_t n = read(fds[0], buffer, sizeof buffer);
            if (n <= 0)
                break;
            done.output.append(buffer, std::size_t(n));
        }
        try {
            progress.checkCancelled();
        } catch (...) {
            kill(pid, SIGINT); // Python unwinds on SIGINT, and the writer removes its temporary file
            close(fds[0]);
            waitpid(pid, &done.status, 0);
            throw;
        }
    }
    close(fds[0]);
    while (waitpid(pid, &done.status, 0) < 0 && errno == EINTR) {
    }
    return done;
}

std::string recorderPath()
{
    if (const char *set = std::getenv("MOESCOPE_RECORDER_PATH"); set && *set)
        return set;
#ifdef MOESCOPE_TOOLS_SOURCE_DIR
    if (std::filesystem::is_directory(std::filesystem::path(MOESCOPE_TOOLS_SOURCE_DIR) / "moescope_recorder"))
        return MOESCOPE_TOOLS_SOURCE_DIR;
#endif
    return {};
}

// The source itself, or every .pt file of a folder (per_token mode: one per rank), in name order.
std::vector<std::string> ptFiles(const std::string &source)
{
    std::error_code error;
    if (!std::filesystem::is_directory(source, error))
        return {source};
    std::vector<std::string> files;
    for (const auto &entry : std::filesystem::directory_iterator(source, error))
        if (entry.is_regular_file(error) && entry.path().extension() == ".pt")
            files.push_back(entry.path().string());
    std::sort(files.begin(), files.end());
    return files;
}

std::vector<std::string> convertSglang(const std::string &source, const std::string &out,
                                       const ImportOptions &options, const Progress &progress)
{
    const char *python = std::getenv("MOESCOPE_PYTHON");
    std::vector<std::string> argv = {python && *python ? python : "python3", "-m",
                                     "moescope_recorder.importers.sglang"};
    const std::vector<std::string> files = ptFiles(source);
    if (files.empty())
        throw DumpError(source, "", "holds no .pt files");
    argv.insert(argv.end(), files.begin(), files.end());
    argv.insert(argv.end(), {"-o", out});
    if (options.numExperts)
        argv.insert(argv.end(), {"--num-experts", std::to_string(*options.numExperts)});
    if (const auto k = options.integer("top-k", 1, 4096))
        argv.insert(argv.end(), {"--top-k", std::to_string(*k)});
    std::vector<std::string> env = {"PYTHONDONTWRITEBYTECODE=1"};
    if (const std::string path = recorderPath(); !path.empty()) {
        const char *old = std::getenv("PYTHONPATH");
        env.push_back("PYTHONPATH=" + path + (old && *old ? ":" + std::string(old) : ""));
    }
    const Finished done = run(source, argv, env, progress);

    std::vector<std::string> warnings;
    std::string errors;
    std::size_t at = 0;
    while (at < done.output.size()) {
        std::size_t end = done.output.find('\n', at);
        if (end == std::string::npos)
            end = done.output.size();
        const std::string line = done.output.substr(at, end - at);
        at = end + 1;
        if (line.rfind("warning: ", 0) == 0)
            warnings.push_back(line.substr(9));
        else if (line.rfind("error: ", 0) == 0)
            errors += (errors.empty() ? "" : "; ") + line.substr(7);
    }
    if (WIFEXITED(done.status) && WEXITSTATUS(done.status) == 0)
        return warnings;
    if (const std::size_t missing = done.output.find("No module named '");
        missing != std::string::npos && errors.empty()) {
        const std::size_t from = missing + 17, to = done.output.find('\'', from);
        const std::string module = done.output.substr(from, to == std::string::npos ? 0 : to - from);
        if (module.rfind("moescope_recorder", 0) == 0)
            throw DumpError(
                source, "",
                "is a torch pickle (SGLang): its converter, the Python package moescope_recorder, "
                "is not found by " +
                    argv[0] +
                    "; set MOESCOPE_RECORDER_PATH to the folder that holds it (tools/ in the sources)");
        throw DumpError(source, "",
                        "is a torch pickle (SGLang): converting it needs Python 3 with numpy, h5py and "
                        "PyTorch, and " +
                            argv[0] + " lacks the module '" + module +
                            "'; install it, or set MOESCOPE_PYTHON to a Python that has them");
    }
    if (!errors.empty()) {
        // The converter names the file itself; keep its message as it is.
        const std::string prefix = source + ": ";
        throw DumpError(source, "", errors.rfind(prefix, 0) == 0 ? errors.substr(prefix.size()) : errors);
    }
    const std::string tail =
        done.output.size() > 600 ? done.output.substr(done.output.size() - 600) : done.output;
    throw DumpError(source, "",
                    "the SGLang converter (" + argv[0] +
                        " -m moescope_recorder.importers.sglang) failed: " + tail);
}

} // namespace

ImportFormat sglangFormat()
{
    ImportFormat f;
    f.name = "sglang";
    f.description = "SGLang expert distribution dump (.pt; converted by the Python recorder with PyTorch)";
    f.options = {"top-k"};
    f.detect = [](const std::string &source) {
        std::error_code error;
        const std::filesystem::path p(source);
        if (std::filesystem::is_regular_file(p, error))
            return p.extension() == ".pt";
        return std::filesystem::is_directory(p, error) && !ptFiles(source).empty();
    };
    f.convert = convertSglang;
    return f;
}

} // namespace moescope::import
