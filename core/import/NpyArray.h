#pragma once
// numpy's .npy files (format versions 1, 2 and 3) and .npz archives of them, read
// without numpy: the vLLM importer takes the arrays users save with np.save/np.savez.
// Only integer arrays are read (int8 .. int64, uint8 .. uint64, either byte order,
// C or Fortran order); anything else is refused with a message that names the file,
// the array and the problem.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace moescope::import {

struct NpyArray {
    std::string name;                 // the array's name in its .npz ("prompt"), or "" for a .npy
    std::string dtype;                // numpy's descr, e.g. "<i2"
    std::vector<std::int64_t> shape;  // e.g. {tokens, L, k}
    std::vector<std::int64_t> values; // every element in C (row-major) order
    bool integer = true;              // false: another type, values left empty (see parseNpy)

    std::int64_t size() const;
};

// One .npy held in `bytes`. `file` and `name` only name the source in errors (DumpError).
// An array of another type is refused, or with `otherTypes` returned with its shape
// and dtype but no values (an .npz may hold arrays the caller does not need).
NpyArray parseNpy(std::string_view bytes, const std::string &file, const std::string &name = "",
                  bool otherTypes = false);

// Every array of an .npz (a zip of .npy files, stored or deflated), in archive order;
// an entry "prompt.npy" becomes the array "prompt".
std::vector<NpyArray> readNpz(const std::string &path);

// A whole .npy file.
NpyArray readNpy(const std::string &path);

} // namespace moescope::import
