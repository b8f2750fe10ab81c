#include "common/LargeBuffer.h"

#include <cstring>

#if defined(__linux__)
#include <sys/mman.h>
#endif

namespace moescope {

namespace {
constexpr std::size_t kMappedFrom = std::size_t(4) << 20; // below this, the heap is as good
}

void *allocateLarge(std::size_t bytes)
{
#if defined(__linux__)
    if (bytes >= kMappedFrom) {
        void *p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED)
            throw std::bad_alloc();
        madvise(p, bytes, MADV_HUGEPAGE); // a hint: refused or unsupported is fine
        return p;
    }
#endif
    void *p = ::operator new(bytes == 0 ? 1 : bytes);
    std::memset(p, 0, bytes); // as fresh mapped pages are: zero
    return p;
}

void releaseLarge(void *p, std::size_t bytes)
{
    if (!p)
        return;
#if defined(__linux__)
    if (bytes >= kMappedFrom) {
        munmap(p, bytes);
        return;
    }
#endif
    ::operator delete(p);
}

} // namespace moescope
