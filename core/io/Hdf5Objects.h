#pragma once
// Checked helpers over the HDF5 C API for the reader: every failure becomes a
// DumpError naming the file and the object. Callers hold hdf5Lock().
#include "io/DumpError.h"
#include "io/Hdf5Door.h"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace moescope::io {

// Where an object lives, for error messages.
struct Site {
    std::string file;
    std::string object;
    [[noreturn]] void fail(const std::string &problem) const { throw DumpError(file, object, problem); }
    Site child(const std::string &name) const
    {
        return {file, (object == "/" ? "" : object) + "/" + name};
    }
};

// Opens member `name` of `parent` as a group or dataset. Returns an invalid handle
// when there is no such member. External and user-defined links are refused, soft
// links only followed when they resolve, and the object must be of `expected` type
// (H5I_BADID: any type).
Handle openMember(hid_t parent, const Site &site, const std::string &name, H5I_type_t expected);

// Names of the links directly inside a group, in name order.
std::vector<std::string> memberNames(hid_t group, const Site &site);

// How much of a dataset's declared extent the file must hold. MustFit: all of it (the
// extent is believed: whole reads, scans over every row). MayBeSparse: chunks may be
// missing (they read as the fill value), for datasets read only a range at a time.
enum class Declared { MustFit, MayBeSparse };

// The extent, after checkDeclaredSize (DeclaredSize.h) refused what no file can hold.
std::vector<hsize_t> shapeOf(hid_t dataset, const Site &site, Declared declared = Declared::MustFit);
// The dataset's stored type, its class and its size in bytes.
Handle typeOf(hid_t dataset, const Site &site);
H5T_class_t typeClassOf(hid_t dataset, const Site &site);
std::size_t typeSizeOf(hid_t dataset, const Site &site);

// Attributes: absent -> nullopt; present but of the wrong kind (another class, an
// array type, not exactly one value) -> DumpError.
std::optional<double> numberAttribute(hid_t object, const Site &site, const char *name);
std::optional<std::string> stringAttribute(hid_t object, const Site &site, const char *name);

// Whole 1-D string dataset (fixed or variable length, ASCII or UTF-8).
std::vector<std::string> readStrings(hid_t dataset, const Site &site);

// Whole 1-D (or N-D, flattened) numeric dataset converted by HDF5 to int64 / double.
// Whole-dataset reads refuse, with a DumpError, a dataset declared larger than memory
// can hold (its extent is the file's word, not a promise of data).
std::vector<std::int64_t> readAllIntegers(hid_t dataset, const Site &site);
std::vector<double> readAllDoubles(hid_t dataset, const Site &site);

// Rows [begin, begin + count) of a dataset whose first dimension is rows, in memory
// type `memType`, into `out` (count * rowElements elements).
void readRows(hid_t dataset, const Site &site, hid_t memType, std::uint64_t begin,
              std::uint64_t count, void *out);

} // namespace moescope::io
