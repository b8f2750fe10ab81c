#pragma once
// Progress of a long headless command on stderr, only when stderr is a terminal (so
// scripts and logs stay clean), at most one update per percent.
#include "io/Progress.h"

#include <cstdio>
#include <string>
#include <unistd.h>

namespace moescope::cli {

class TerminalProgress {
public:
    explicit TerminalProgress(std::string what) : m_what(std::move(what)), m_enabled(isatty(2) == 1) {}
    ~TerminalProgress()
    {
        if (m_enabled && m_last >= 0)
            std::fprintf(stderr, "\r%*s\r", int(m_what.size()) + 8, "");
    }
    Progress progress()
    {
        if (!m_enabled)
            return {};
        return Progress([this](double f) { show(f); }, nullptr);
    }

private:
    void show(double fraction)
    {
        const int percent = int(fraction * 100);
        if (percent == m_last)
            return;
        m_last = percent;
        std::fprintf(stderr, "\r%s %3d%%", m_what.c_str(), percent);
        std::fflush(stderr);
    }
    std::string m_what;
    bool m_enabled;
    int m_last = -1;
};

} // namespace moescope::cli
