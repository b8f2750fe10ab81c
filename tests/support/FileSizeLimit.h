#pragma once
// A full disk, simulated without privileges: RLIMIT_FSIZE caps how large a file this
// process (and any child started meanwhile) may make, and with SIGXFSZ ignored a
// write past the cap fails with EFBIG, as a write to a full disk fails with ENOSPC.
// The cap (the soft limit) is put back on destruction.
#include <signal.h>
#include <sys/resource.h>

namespace moescope::test {

class FileSizeLimit {
public:
    explicit FileSizeLimit(rlim_t bytes)
    {
        getrlimit(RLIMIT_FSIZE, &m_before);
        m_handler = signal(SIGXFSZ, SIG_IGN);
        rlimit capped = m_before;
        capped.rlim_cur = bytes;
        setrlimit(RLIMIT_FSIZE, &capped);
    }
    ~FileSizeLimit()
    {
        setrlimit(RLIMIT_FSIZE, &m_before);
        signal(SIGXFSZ, m_handler);
    }
    FileSizeLimit(const FileSizeLimit &) = delete;
    FileSizeLimit &operator=(const FileSizeLimit &) = delete;

private:
    rlimit m_before{};
    sighandler_t m_handler = SIG_DFL;
};

} // namespace moescope::test
