#pragma once
// An allocator for the per-token arrays of a layer (T x k choices, T flags): tens to
// hundreds of megabytes, filled right after they are made. std::allocator zeroes them
// on resize and the kernel then faults them in 4 KiB at a time; at a million tokens
// that was a quarter of `route`. Here large blocks come straight from mmap (already
// zero), asked to use huge pages where the system allows; small ones from operator new,
// zeroed. So fresh elements are zero as with std::allocator; only elements re-exposed
// by growing a vector that shrank keep their old values (callers that reuse a buffer
// write every element).
#include <cstddef>
#include <new>
#include <type_traits>
#include <vector>

namespace moescope {

void *allocateLarge(std::size_t bytes);
void releaseLarge(void *p, std::size_t bytes);

template <typename T>
struct LargeBufferAllocator {
    static_assert(std::is_trivial_v<T>, "only for plain numbers");
    using value_type = T;

    LargeBufferAllocator() = default;
    template <typename U>
    LargeBufferAllocator(const LargeBufferAllocator<U> &) noexcept {}

    T *allocate(std::size_t n) { return static_cast<T *>(allocateLarge(n * sizeof(T))); }
    void deallocate(T *p, std::size_t n) noexcept { releaseLarge(p, n * sizeof(T)); }

    // resize(n) leaves new elements as the memory has them (zero when fresh).
    template <typename U>
    void construct(U *p) noexcept { ::new (static_cast<void *>(p)) U; }
    template <typename U, typename... Args>
    void construct(U *p, Args &&...args) { ::new (static_cast<void *>(p)) U(std::forward<Args>(args)...); }

    template <typename U>
    bool operator==(const LargeBufferAllocator<U> &) const noexcept { return true; }
};

template <typename T>
using LargeVector = std::vector<T, LargeBufferAllocator<T>>;

} // namespace moescope
