#pragma once
// The one door to the HDF5 C library. HDF5 (Debian's serial build) is not
// thread-safe, so every call into it holds hdf5Lock(); RAII handles close what they
// open under the same lock. Nothing outside core/io includes hdf5.h.
#include <hdf5.h>

#include <mutex>
#include <string>
#include <utility>

namespace moescope::io {

// Recursive so that helpers holding the lock can call each other.
std::unique_lock<std::recursive_mutex> hdf5Lock();

// Opens the HDF5 file held in `data` read-only, in memory (HDF5's core driver, which
// copies the bytes). `name` stands for it in HDF5's own bookkeeping and must not name
// an existing file (the core driver refuses to shadow one). Returns a negative id
// when HDF5 refuses the image. Call under hdf5Lock().
hid_t openFileImage(const std::string &name, const void *data, std::size_t size);

// The innermost message on HDF5's error stack ("" when empty), for error texts.
std::string lastHdf5Message();

// An owned HDF5 identifier (file, group, dataset, dataspace, datatype, attribute,
// property list); closes it with the matching H5*close on destruction.
class Handle {
public:
    Handle() = default;
    explicit Handle(hid_t id) : m_id(id) {}
    Handle(Handle &&other) noexcept : m_id(std::exchange(other.m_id, H5I_INVALID_HID)) {}
    Handle &operator=(Handle &&other) noexcept
    {
        if (this != &other) {
            reset();
            m_id = std::exchange(other.m_id, H5I_INVALID_HID);
        }
        return *this;
    }
    Handle(const Handle &) = delete;
    Handle &operator=(const Handle &) = delete;
    ~Handle() { reset(); }

    hid_t get() const { return m_id; }
    bool valid() const { return m_id >= 0; }
    void reset();

private:
    hid_t m_id = H5I_INVALID_HID;
};

} // namespace moescope::io
