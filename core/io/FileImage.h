#pragma once
// An HDF5 file held in memory, opened through HDF5's core driver: nothing is read
// from disk. The fuzz targets feed the reader this way (the same checks run as on a
// file), and so can any caller that already holds a file's bytes.
#include <cstddef>

namespace moescope {

struct FileImage {
    const void *data = nullptr;
    std::size_t size = 0;
};

} // namespace moescope
