#pragma once
// A scratch buffer whose memory comes back to the next one made: when a pass over a
// layer ends, its chunk buffers go to a small process-wide pool, and the next layer's
// pass takes them from there. Fresh memory costs a page fault per 4 KiB the first
// time it is written (the kernel zeroes and maps each page; on a virtual machine a
// fault costs several microseconds), memory the process used before costs nothing.
//
// The contents are not initialised: the user writes every byte it reads. Buffers of
// 4 MB or more get huge pages where the system allows (LargeBuffer.h). The pool keeps
// 192 MB at most; what does not fit is freed. Thread-safe.
#include <cstddef>

namespace moescope {

class ReusedBuffer {
public:
    ReusedBuffer() = default;
    ~ReusedBuffer();
    ReusedBuffer(ReusedBuffer &&other) noexcept;
    ReusedBuffer &operator=(ReusedBuffer &&other) noexcept;
    ReusedBuffer(const ReusedBuffer &) = delete;
    ReusedBuffer &operator=(const ReusedBuffer &) = delete;

    // At least `bytes` (64-byte aligned), keeping this buffer when it is large enough,
    // else taking one from the pool or the heap; earlier contents are not kept.
    void *reserve(std::size_t bytes);

private:
    void release();
    void *m_data = nullptr;
    std::size_t m_bytes = 0;
};

} // namespace moescope
