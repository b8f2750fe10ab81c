#include "io/Hdf5Objects.h"

#include "io/DeclaredSize.h"

#include <bit>
#include <cstdint>
#include <cstring>
#include <new>
#include <stdexcept>

namespace moescope::io {

namespace {
std::string withHdf5Reason(const std::string &what)
{
    const std::string reason = lastHdf5Message();
    return reason.empty() ? what : what + " (" + reason + ")";
}

// An identifier HDF5 handed back, owned; a failed call (a negative id) is refused
// with what could not be done and HDF5's own reason.
Handle owned(hid_t id, const Site &site, const std::string &what)
{
    Handle handle(id);
    if (!handle.valid())
        site.fail(withHdf5Reason("cannot " + what));
    return handle;
}

void succeeded(herr_t status, const Site &site, const std::string &what)
{
    if (status < 0)
        site.fail(withHdf5Reason("cannot " + what));
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

std::string attributeWord(const char *name) { return std::string("attribute '") + name + "'"; }

// Attribute `name` of `object`, opened; invalid when there is none.
Handle openAttribute(hid_t object, const Site &site, const char *name)
{
    const htri_t exists = H5Aexists(object, name);
    if (exists < 0)
        site.fail(withHdf5Reason("cannot look for " + attributeWord(name)));
    if (exists == 0)
        return Handle();
    return owned(H5Aopen(object, name, H5P_DEFAULT), site, "open " + attributeWord(name));
}

H5T_class_t classOf(hid_t type, const Site &site, const std::string &what)
{
    const H5T_class_t cls = H5Tget_class(type);
    if (cls == H5T_NO_CLASS)
        site.fail(withHdf5Reason("cannot read the type class of " + what));
    return cls;
}

std::size_t sizeOf(hid_t type, const Site &site, const std::string &what)
{
    const std::size_t size = H5Tget_size(type);
    if (size == 0)
        site.fail(withHdf5Reason("cannot read the type size of " + what));
    return size;
}

// An attribute's value read as `memType` into `out` (one element expected).
void readScalarAttribute(hid_t attr, const Site &site, const char *name, hid_t memType, void *out)
{
    const Handle space = owned(H5Aget_space(attr), site, "read the extent of " + attributeWord(name));
    const hssize_t n = H5Sget_simple_extent_npoints(space.get());
    if (n < 0)
        site.fail(withHdf5Reason("cannot read the extent of " + attributeWord(name)));
    if (n != 1)
        site.fail(attributeWord(name) + " must hold one value, not " + std::to_string(n));
    succeeded(H5Aread(attr, memType, out), site, "read " + attributeWord(name));
}

// The number of values of a dataset of extent `dims` times `valueSize`, refused when
// it does not fit in a size_t.
std::size_t checkedCount(const std::vector<hsize_t> &dims, std::size_t valueSize, const Site &site)
{
    std::size_t n = valueSize;
    for (hsize_t d : dims) {
        if (d != 0 && n > SIZE_MAX / d)
            site.fail("declares more values than this computer can address");
        n *= std::size_t(d);
    }
    return n;
}

// A zeroed buffer of n values; a DumpError when memory cannot hold it (the extent of a
// dataset is whatever the file declares).
template <typename T>
std::vector<T> bufferFor(std::size_t n, const Site &site)
{
    try {
        return std::vector<T>(n);
    } catch (const std::length_error &) {
    } catch (const std::bad_alloc &) {
    }
    site.fail("holds " + std::to_string(n) + " values, more than fit in memory");
}

// A C string memory type matching the stored string type `fileType`.
Handle stringMemoryType(hid_t fileType, const Site &site, const std::string &what)
{
    Handle memType = owned(H5Tcopy(H5T_C_S1), site, "make a string type for " + what);
    const H5T_cset_t cset = H5Tget_cset(fileType);
    if (cset == H5T_CSET_ERROR)
        site.fail(withHdf5Reason("cannot read the character set of " + what));
    succeeded(H5Tset_cset(memType.get(), cset), site, "make a string type for " + what);
    return memType;
}

bool isVariableString(hid_t type, const Site &site, const std::string &what)
{
    const htri_t variable = H5Tis_variable_str(type);
    if (variable < 0)
        site.fail(withHdf5Reason("cannot read the string type of " + what));
    return variable > 0;
}

// Makes `memType` read fixed-length strings of `size` bytes, padding kept as NULs.
void fixedStringLayout(hid_t memType, std::size_t size, const Site &site, const std::string &what)
{
    succeeded(H5Tset_size(memType, size), site, "make a string type for " + what);
    succeeded(H5Tset_strpad(memType, H5T_STR_NULLPAD), site, "make a string type for " + what);
}

// The value of an enum attribute's native integer `size` bytes held in `raw`.
std::int64_t enumValue(const unsigned char *raw, std::size_t size, bool isSigned)
{
    std::uint64_t bits = 0;
    std::memcpy(&bits, raw, size); // little- or big-endian alike: the low `size` bytes of a native integer
    if constexpr (std::endian::native == std::endian::big)
        bits >>= 8 * (8 - size);
    if (isSigned && size < 8 && (bits >> (8 * size - 1)) & 1u)
        bits |= ~std::uint64_t(0) << (8 * size); // extend the sign
    return std::int64_t(bits);
}
} // namespace

Handle openMember(hid_t parent, const Site &site, const std::string &name, H5I_type_t expected)
{
    const Site here = site.child(name);
    const htri_t exists = H5Lexists(parent, name.c_str(), H5P_DEFAULT);
    if (exists < 0)
        here.fail(withHdf5Reason("cannot look for the link"));
    if (exists == 0)
        return Handle();
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
    if (type == H5I_BADID)
        here.fail(withHdf5Reason("cannot tell what kind of object it is"));
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

std::vector<hsize_t> shapeOf(hid_t dataset, const Site &site, Declared declared)
{
    const Handle space = owned(H5Dget_space(dataset), site, "read the shape");
    const int rank = H5Sget_simple_extent_ndims(space.get());
    if (rank < 0)
        site.fail(withHdf5Reason("cannot read the shape"));
    std::vector<hsize_t> dims(static_cast<std::size_t>(rank));
    if (rank > 0 && H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr) != rank)
        site.fail(withHdf5Reason("cannot read the shape"));
    checkDeclaredSize(dataset, dims, site, declared);
    return dims;
}

Handle typeOf(hid_t dataset, const Site &site)
{
    return owned(H5Dget_type(dataset), site, "read the data type");
}

H5T_class_t typeClassOf(hid_t dataset, const Site &site)
{
    return classOf(typeOf(dataset, site).get(), site, "the data");
}

std::size_t typeSizeOf(hid_t dataset, const Site &site)
{
    return sizeOf(typeOf(dataset, site).get(), site, "the data");
}

std::optional<double> numberAttribute(hid_t object, const Site &site, const char *name)
{
    const Handle attr = openAttribute(object, site, name);
    if (!attr.valid())
        return std::nullopt;
    const std::string what = attributeWord(name);
    const Handle type = owned(H5Aget_type(attr.get()), site, "read the type of " + what);
    const H5T_class_t cls = classOf(type.get(), site, what);
    if (cls == H5T_INTEGER || cls == H5T_FLOAT) {
        double value = 0;
        readScalarAttribute(attr.get(), site, name, H5T_NATIVE_DOUBLE, &value);
        return value;
    }
    if (cls == H5T_ENUM) { // numpy booleans arrive as an int8 enum from h5py
        // HDF5 converts no enum to a number: read it as its own integer type, native.
        const Handle native = owned(H5Tget_native_type(type.get(), H5T_DIR_ASCEND), site, "read the type of " + what);
        const std::size_t size = sizeOf(native.get(), site, what);
        const H5T_sign_t sign = H5Tget_sign(native.get());
        if (size > 8 || sign == H5T_SGN_ERROR)
            site.fail(what + " has an unsupported enum type");
        unsigned char raw[8] = {};
        readScalarAttribute(attr.get(), site, name, native.get(), raw);
        return double(enumValue(raw, size, sign == H5T_SGN_2));
    }
    site.fail(what + " must be a number");
}

std::optional<std::string> stringAttribute(hid_t object, const Site &site, const char *name)
{
    const Handle attr = openAttribute(object, site, name);
    if (!attr.valid())
        return std::nullopt;
    const std::string what = attributeWord(name);
    const Handle type = owned(H5Aget_type(attr.get()), site, "read the type of " + what);
    if (classOf(type.get(), site, what) != H5T_STRING)
        site.fail(what + " must be a string");
    const Handle memType = stringMemoryType(type.get(), site, what);
    if (isVariableString(type.get(), site, what)) {
        succeeded(H5Tset_size(memType.get(), H5T_VARIABLE), site, "make a string type for " + what);
        char *value = nullptr;
        readScalarAttribute(attr.get(), site, name, memType.get(), &value);
        std::string result = value ? value : "";
        H5free_memory(value);
        return result;
    }
    const std::size_t size = sizeOf(type.get(), site, what);
    if (size > kMaxAttributeString)
        site.fail(what + " declares a string of " + std::to_string(size) + " bytes; at most " +
                  std::to_string(kMaxAttributeString) + " are read");
    fixedStringLayout(memType.get(), size, site, what);
    std::vector<char> buffer = bufferFor<char>(size, site);
    readScalarAttribute(attr.get(), site, name, memType.get(), buffer.data());
    return std::string(buffer.data(), strnlen(buffer.data(), size));
}

std::vector<std::string> readStrings(hid_t dataset, const Site &site)
{
    const auto dims = shapeOf(dataset, site);
    if (dims.size() != 1)
        site.fail("must be one-dimensional, has rank " + std::to_string(dims.size()));
    const Handle type = typeOf(dataset, site);
    if (classOf(type.get(), site, "the data") != H5T_STRING)
        site.fail("must hold strings");
    const std::size_t n = checkedCount(dims, 1, site);
    std::vector<std::string> result = bufferFor<std::string>(n, site);
    if (n == 0)
        return result;
    const Handle memType = stringMemoryType(type.get(), site, "the strings");
    if (isVariableString(type.get(), site, "the strings")) {
        succeeded(H5Tset_size(memType.get(), H5T_VARIABLE), site, "make a string type for the strings");
        std::vector<char *> ptrs = bufferFor<char *>(n, site);
        succeeded(H5Dread(dataset, memType.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, ptrs.data()), site,
                  "read the strings");
        for (std::size_t i = 0; i < n; ++i)
            result[i] = ptrs[i] ? ptrs[i] : "";
        const Handle space = owned(H5Dget_space(dataset), site, "read the shape");
        succeeded(H5Dvlen_reclaim(memType.get(), space.get(), H5P_DEFAULT, ptrs.data()), site,
                  "release the strings read");
        return result;
    }
    const std::size_t size = sizeOf(type.get(), site, "the strings");
    fixedStringLayout(memType.get(), size, site, "the strings");
    std::vector<char> buffer = bufferFor<char>(checkedCount(dims, size, site), site);
    succeeded(H5Dread(dataset, memType.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, buffer.data()), site,
              "read the strings");
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
    const std::size_t n = checkedCount(shapeOf(dataset, site), 1, site);
    std::vector<std::int64_t> values = bufferFor<std::int64_t>(n, site);
    if (n)
        succeeded(H5Dread(dataset, H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data()), site,
                  "read the values");
    return values;
}

std::vector<double> readAllDoubles(hid_t dataset, const Site &site)
{
    const H5T_class_t cls = typeClassOf(dataset, site);
    if (cls != H5T_FLOAT && cls != H5T_INTEGER)
        site.fail("must hold numbers");
    const std::size_t n = checkedCount(shapeOf(dataset, site), 1, site);
    std::vector<double> values = bufferFor<double>(n, site);
    if (n)
        succeeded(H5Dread(dataset, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data()), site,
                  "read the values");
    return values;
}

void readRows(hid_t dataset, const Site &site, hid_t memType, std::uint64_t begin,
              std::uint64_t count, void *out)
{
    if (count == 0)
        return;
    // A range is read: what the opening checked is enough (a run log may be sparse).
    std::vector<hsize_t> extent = shapeOf(dataset, site, Declared::MayBeSparse);
    if (extent.empty() || begin > extent[0] || count > extent[0] - begin)
        site.fail("has no rows " + std::to_string(begin) + " to " + std::to_string(begin + count));
    const Handle fileSpace = owned(H5Dget_space(dataset), site, "read the shape");
    std::vector<hsize_t> start(extent.size(), 0);
    start[0] = begin;
    extent[0] = count;
    succeeded(H5Sselect_hyperslab(fileSpace.get(), H5S_SELECT_SET, start.data(), nullptr, extent.data(), nullptr),
              site, "select rows " + std::to_string(begin) + "..");
    const Handle memSpace = owned(H5Screate_simple(int(extent.size()), extent.data(), nullptr), site,
                                  "make room for rows " + std::to_string(begin) + "..");
    if (H5Dread(dataset, memType, memSpace.get(), fileSpace.get(), H5P_DEFAULT, out) < 0)
        site.fail(withHdf5Reason("cannot read rows " + std::to_string(begin) + " to " +
                                 std::to_string(begin + count) + " (is the file truncated or corrupt?)"));
}

} // namespace moescope::io
