#include "io/Hdf5Objects.h"

#include <cmath>
#include <cstring>

namespace moescope::io {

namespace {
std::string withHdf5Reason(const std::string &what)
{
    const std::string reason = lastHdf5Message();
    return reason.empty() ? what : what + " (" + reason + ")";
}

herr_t collectName(hid_t, const char *name, const H5L_info_t *, void *data)
{
    static_cast<std::vector<std::string> *>(data)->emplace_back(name);
    return 0;
}

const char *typeWord(H5I_type_t t)
{
    return t == H5I_GROUP ? "a group" : t == H5I_DATASET ? "a dataset" : "an HDF5 object";
}

// An attribute's value read as `memType` into `out` (one element expected).
void readScalarAttribute(hid_t attr, const Site &site, const char *name, hid_t memType, void *out)
{
    Handle space(H5Aget_space(attr));
    const hssize_t n = space.valid() ? H5Sget_simple_extent_npoints(space.get()) : -1;
    if (n != 1)
        site.fail(std::string("attribute '") + name + "' must hold one value, not " + std::to_string(n));
    if (H5Aread(attr, memType, out) < 0)
        site.fail(withHdf5Reason(std::string("cannot read attribute '") + name + "'"));
}
} // namespace

Handle openMember(hid_t parent, const Site &site, const std::string &name, H5I_type_t expected)
{
    const Site here = site.child(name);
    const htri_t exists = H5Lexists(parent, name.c_str(), H5P_DEFAULT);
    if (exists <= 0) {
        H5Eclear2(H5E_DEFAULT);
        return Handle();
    }
    H5L_info_t link;
    if (H5Lget_info(parent, name.c_str(), &link, H5P_DEFAULT) < 0)
        here.fail(withHdf5Reason("cannot read the link"));
    if (link.type == H5L_TYPE_EXTERNAL)
        here.fail("is an external link to another file; dumps must be self-contained");
    if (link.type != H5L_TYPE_HARD && link.type != H5L_TYPE_SOFT)
        here.fail("is a user-defined link, which is not followed");
    if (link.type == H5L_TYPE_SOFT && H5Oexists_by_name(parent, name.c_str(), H5P_DEFAULT) <= 0) {
        H5Eclear2(H5E_DEFAULT);
        here.fail("is a soft link that does not resolve to an object");
    }
    Handle object(H5Oopen(parent, name.c_str(), H5P_DEFAULT));
    if (!object.valid())
        here.fail(withHdf5Reason("cannot be opened"));
    const H5I_type_t type = H5Iget_type(object.get());
    if (expected != H5I_BADID && type != expected)
        here.fail(std::string("must be ") + typeWord(expected) + ", found " + typeWord(type));
    return object;
}

std::vector<std::string> memberNames(hid_t group, const Site &site)
{
    std::vector<std::string> names;
    hsize_t idx = 0;
    if (H5Literate(group, H5_INDEX_NAME, H5_ITER_INC, &idx, collectName, &names) < 0)
        site.fail(withHdf5Reason("cannot list the members"));
    return names;
}

std::vector<hsize_t> shapeOf(hid_t dataset, const Site &site)
{
    Handle space(H5Dget_space(dataset));
    const int rank = space.valid() ? H5Sget_simple_extent_ndims(space.get()) : -1;
    if (rank < 0)
        site.fail(withHdf5Reason("cannot read the shape"));
    std::vector<hsize_t> dims(rank);
    if (rank > 0)
        H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr);
    return dims;
}

H5T_class_t typeClassOf(hid_t dataset, const Site &site)
{
    Handle type(H5Dget_type(dataset));
    if (!type.valid())
        site.fail(withHdf5Reason("cannot read the data type"));
    return H5Tget_class(type.get());
}

std::size_t typeSizeOf(hid_t dataset, const Site &site)
{
    Handle type(H5Dget_type(dataset));
    if (!type.valid())
        site.fail(withHdf5Reason("cannot read the data type"));
    return H5Tget_size(type.get());
}

std::optional<double> numberAttribute(hid_t object, const Site &site, const char *name)
{
    if (H5Aexists(object, name) <= 0) {
        H5Eclear2(H5E_DEFAULT);
        return std::nullopt;
    }
    Handle attr(H5Aopen(object, name, H5P_DEFAULT));
    Handle type(H5Aget_type(attr.get()));
    const H5T_class_t cls = H5Tget_class(type.get());
    if (cls == H5T_INTEGER || cls == H5T_FLOAT) {
        double value = 0;
        readScalarAttribute(attr.get(), site, name, H5T_NATIVE_DOUBLE, &value);
        return value;
    }
    if (cls == H5T_ENUM) { // numpy booleans arrive as an int8 enum from h5py
        Handle native(H5Tget_native_type(type.get(), H5T_DIR_ASCEND));
        const std::size_t size = H5Tget_size(native.get());
        if (size > 8)
            site.fail(std::string("attribute '") + name + "' has an unsupported enum type");
        unsigned char raw[8] = {};
        readScalarAttribute(attr.get(), site, name, native.get(), raw);
        std::int64_t v = 0;
        if (size == 1) v = *reinterpret_cast<std::int8_t *>(raw);
        else if (size == 2) { std::int16_t x; std::memcpy(&x, raw, 2); v = x; }
        else if (size == 4) { std::int32_t x; std::memcpy(&x, raw, 4); v = x; }
        else { std::memcpy(&v, raw, 8); }
        return double(v);
    }
    site.fail(std::string("attribute '") + name + "' must be a number");
}

std::optional<std::string> stringAttribute(hid_t object, const Site &site, const char *name)
{
    if (H5Aexists(object, name) <= 0) {
        H5Eclear2(H5E_DEFAULT);
        return std::nullopt;
    }
    Handle attr(H5Aopen(object, name, H5P_DEFAULT));
    Handle type(H5Aget_type(attr.get()));
    if (H5Tget_class(type.get()) != H5T_STRING)
        site.fail(std::string("attribute '") + name + "' must be a string");
    Handle memType(H5Tcopy(H5T_C_S1));
    H5Tset_cset(memType.get(), H5Tget_cset(type.get()));
    if (H5Tis_variable_str(type.get()) > 0) {
        H5Tset_size(memType.get(), H5T_VARIABLE);
        char *value = nullptr;
        readScalarAttribute(attr.get(), site, name, memType.get(), &value);
        std::string result = value ? value : "";
        H5free_memory(value);
        return result;
    }
    const std::size_t size = H5Tget_size(type.get());
    H5Tset_size(memType.get(), size);
    H5Tset_strpad(memType.get(), H5T_STR_NULLPAD);
    std::string buffer(size, '\0');
    readScalarAttribute(attr.get(), site, name, memType.get(), buffer.data());
    buffer.resize(std::strlen(buffer.c_str()));
    return buffer;
}

std::vector<std::string> readStrings(hid_t dataset, const Site &site)
{
    const auto dims = shapeOf(dataset, site);
    if (dims.size() != 1)
        site.fail("must be one-dimensional, has rank " + std::to_string(dims.size()));
    Handle type(H5Dget_type(dataset));
    if (H5Tget_class(type.get()) != H5T_STRING)
        site.fail("must hold strings");
    const std::size_t n = dims[0];
    std::vector<std::string> result(n);
    if (n == 0)
        return result;
    Handle memType(H5Tcopy(H5T_C_S1));
    H5Tset_cset(memType.get(), H5Tget_cset(type.get()));
    if (H5Tis_variable_str(type.get()) > 0) {
        H5Tset_size(memType.get(), H5T_VARIABLE);
        std::vector<char *> ptrs(n, nullptr);
        if (H5Dread(dataset, memType.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, ptrs.data()) < 0)
            site.fail(withHdf5Reason("cannot read the strings"));
        for (std::size_t i = 0; i < n; ++i)
            result[i] = ptrs[i] ? ptrs[i] : "";
        Handle space(H5Dget_space(dataset));
        H5Dvlen_reclaim(memType.get(), space.get(), H5P_DEFAULT, ptrs.data());
        return result;
    }
    const std::size_t size = H5Tget_size(type.get());
    H5Tset_size(memType.get(), size);
    H5Tset_strpad(memType.get(), H5T_STR_NULLPAD);
    std::vector<char> buffer(n * size);
    if (H5Dread(dataset, memType.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, buffer.data()) < 0)
        site.fail(withHdf5Reason("cannot read the strings"));
    for (std::size_t i = 0; i < n; ++i) {
        const char *s = buffer.data() + i * size;
        result[i].assign(s, strnlen(s, size));
    }
    return result;
}

std::vector<std::int64_t> readAllIntegers(hid_t dataset, const Site &site)
{
    if (typeClassOf(dataset, site) != H5T_INTEGER)
        site.fail("must hold integers");
    std::size_t n = 1;
    for (hsize_t d : shapeOf(dataset, site))
        n *= d;
    std::vector<std::int64_t> values(n);
    if (n && H5Dread(dataset, H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data()) < 0)
        site.fail(withHdf5Reason("cannot read the values"));
    return values;
}

std::vector<double> readAllDoubles(hid_t dataset, const Site &site)
{
    const H5T_class_t cls = typeClassOf(dataset, site);
    if (cls != H5T_FLOAT && cls != H5T_INTEGER)
        site.fail("must hold numbers");
    std::size_t n = 1;
    for (hsize_t d : shapeOf(dataset, site))
        n *= d;
    std::vector<double> values(n);
    if (n && H5Dread(dataset, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data()) < 0)
        site.fail(withHdf5Reason("cannot read the values"));
    return values;
}

void readRows(hid_t dataset, const Site &site, hid_t memType, std::uint64_t begin,
              std::uint64_t count, void *out)
{
    if (count == 0)
        return;
    Handle fileSpace(H5Dget_space(dataset));
    const int rank = H5Sget_simple_extent_ndims(fileSpace.get());
    std::vector<hsize_t> dims(rank);
    H5Sget_simple_extent_dims(fileSpace.get(), dims.data(), nullptr);
    std::vector<hsize_t> start(rank, 0), extent = dims;
    start[0] = begin;
    extent[0] = count;
    if (H5Sselect_hyperslab(fileSpace.get(), H5S_SELECT_SET, start.data(), nullptr,
                            extent.data(), nullptr) < 0)
        site.fail(withHdf5Reason("cannot select rows " + std::to_string(begin) + ".."));
    Handle memSpace(H5Screate_simple(rank, extent.data(), nullptr));
    if (H5Dread(dataset, memType, memSpace.get(), fileSpace.get(), H5P_DEFAULT, out) < 0)
        site.fail(withHdf5Reason("cannot read rows " + std::to_string(begin) + " to " +
                                 std::to_string(begin + count) +
                                 " (is the file truncated or corrupt?)"));
}

} // namespace moescope::io
