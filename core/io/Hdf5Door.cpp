#include "io/Hdf5Door.h"

#include <mutex>

namespace moescope::io {

namespace {
// The one lock of the process's HDF5 (a serial build): every call goes through it.
std::recursive_mutex door;
std::once_flag quieted;

herr_t keepInnermost(unsigned n, const H5E_error2_t *err, void *data)
{
    if (n == 0 && err->desc)
        *static_cast<std::string *>(data) = err->desc;
    return 0;
}
} // namespace

std::unique_lock<std::recursive_mutex> hdf5Lock()
{
    std::unique_lock<std::recursive_mutex> lock(door);
    // HDF5 prints its error stack to stderr by default; we turn failures into
    // DumpError messages instead, so switch that printing off before the first call.
    std::call_once(quieted, [] { H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr); });
    return lock;
}

std::string lastHdf5Message()
{
    auto lock = hdf5Lock();
    std::string message;
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_DOWNWARD, keepInnermost, &message);
    H5Eclear2(H5E_DEFAULT);
    return message;
}

hid_t openFileImage(const std::string &name, const void *data, std::size_t size)
{
    if (!data || size == 0)
        return H5I_INVALID_HID;
    const Handle access(H5Pcreate(H5P_FILE_ACCESS));
    if (!access.valid() || H5Pset_fapl_core(access.get(), 1 << 16, false) < 0 ||
        H5Pset_file_image(access.get(), const_cast<void *>(data), size) < 0)
        return H5I_INVALID_HID;
    return H5Fopen(name.c_str(), H5F_ACC_RDONLY, access.get());
}

void Handle::reset()
{
    if (m_id < 0)
        return;
    auto lock = hdf5Lock();
    switch (H5Iget_type(m_id)) {
    case H5I_FILE: H5Fclose(m_id); break;
    case H5I_GROUP: H5Gclose(m_id); break;
    case H5I_DATASET: H5Dclose(m_id); break;
    case H5I_DATASPACE: H5Sclose(m_id); break;
    case H5I_DATATYPE: H5Tclose(m_id); break;
    case H5I_ATTR: H5Aclose(m_id); break;
    case H5I_GENPROP_LST: H5Pclose(m_id); break;
    default: break;
    }
    m_id = H5I_INVALID_HID;
}

} // namespace moescope::io
