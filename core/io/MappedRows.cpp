#include "io/MappedRows.h"

#include <utility>

#if __has_include(<sys/mman.h>)
#include <sys/mman.h>
#include <unistd.h>
#define MOESCOPE_HAVE_MMAP 1
#ifndef MAP_POPULATE // Linux only: elsewhere the pages come in on first touch
#define MAP_POPULATE 0
#endif
#endif

namespace moescope::io {

#if MOESCOPE_HAVE_MMAP

MappedRows MappedRows::map(int fd, std::uint64_t offset, std::size_t length)
{
    MappedRows m;
    if (fd < 0 || length == 0)
        return m;
    const auto page = std::uint64_t(sysconf(_SC_PAGESIZE));
    const std::uint64_t start = offset / page * page;
    const std::size_t lead = std::size_t(offset - start);
    void *base = mmap(nullptr, length + lead, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, off_t(start));
    if (base == MAP_FAILED)
        return m;
    m.m_base = base;
    m.m_mapped = length + lead;
    m.m_data = static_cast<const char *>(base) + lead;
    return m;
}

void MappedRows::release()
{
    if (m_base)
        munmap(m_base, m_mapped);
    m_base = nullptr;
    m_data = nullptr;
}

#else // no mmap: never mapped, the reader reads

MappedRows MappedRows::map(int, std::uint64_t, std::size_t) { return {}; }

void MappedRows::release() {}

#endif

MappedRows::~MappedRows() { release(); }

MappedRows::MappedRows(MappedRows &&other) noexcept
    : m_base(std::exchange(other.m_base, nullptr)), m_mapped(std::exchange(other.m_mapped, 0)),
      m_data(std::exchange(other.m_data, nullptr))
{
}

MappedRows &MappedRows::operator=(MappedRows &&other) noexcept
{
    if (this != &other) {
        release();
        m_base = std::exchange(other.m_base, nullptr);
        m_mapped = std::exchange(other.m_mapped, 0);
        m_data = std::exchange(other.m_data, nullptr);
    }
    return *this;
}

} // namespace moescope::io
