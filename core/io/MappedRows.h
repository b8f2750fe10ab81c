#pragma once
// A read-only memory mapping of a byte range of an open file: the rows of an
// uncompressed, contiguous dataset read in place, with no copy from the page cache.
// Reading 1 GB of logits through HDF5 costs about as much as routing them, nearly all
// of it the kernel's copy into our buffer; a mapping hands the routing kernel the
// page-cache pages themselves. Windows are mapped and unmapped as the pass moves on,
// so resident memory stays bounded.
//
// A file truncated by another program while a window is mapped would kill the process
// with SIGBUS at the next access. Live windows are registered with a SIGBUS handler
// that puts zero pages over a window whose pages went away and marks it lost(); the
// access then reads zeros, and the user of the rows must check lost() before trusting
// them (forEachLogitsChunk turns it into a DumpError). A SIGBUS elsewhere goes to the
// handler that was there before, or kills the process as it would have anyway.
#include <cstddef>
#include <cstdint>

namespace moescope::io {

class MappedRows {
public:
    MappedRows() = default;
    // Maps [offset, offset + length) of the file open as fd, pages loaded up front
    // (in the calling thread: a read-ahead thread takes the page faults and any disk
    // reads). Empty when the system refuses; the caller then reads the usual way.
    static MappedRows map(int fd, std::uint64_t offset, std::size_t length);
    ~MappedRows();
    MappedRows(MappedRows &&other) noexcept;
    MappedRows &operator=(MappedRows &&other) noexcept;
    MappedRows(const MappedRows &) = delete;
    MappedRows &operator=(const MappedRows &) = delete;

    const void *data() const { return m_data; }
    bool empty() const { return m_data == nullptr; }
    // Whether the file lost pages under this window (truncated): the rows read as zeros.
    bool lost() const;

private:
    void release();
    void *m_base = nullptr;       // the page-aligned mapping
    std::size_t m_mapped = 0;
    const void *m_data = nullptr; // the requested offset within it
    int m_slot = -1;              // the window's entry in the SIGBUS handler's table
};

} // namespace moescope::io
