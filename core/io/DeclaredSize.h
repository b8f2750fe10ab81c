#pragma once
// The extent a dataset declares is the file's word, not a promise of data: a few
// hundred bytes of header can claim 2^40 rows, billions of one-value chunks or a
// gigabyte string, and a reader that believed them would allocate, or loop, without
// bound. checkDeclaredSize refuses such claims before anything is read by them.
#include "io/Hdf5Objects.h"

namespace moescope::io {

// Deflate never packs more than 1032 bytes into one; a filtered dataset may declare
// this many times the file's size, an unfiltered one no more than the file holds.
inline constexpr double kMaxInflation = 1100;
// More chunks than this and reading the dataset costs more in HDF5's chunk lookups
// than in data (a legitimate writer's chunks hold thousands of values).
inline constexpr double kMaxChunks = double(1 << 22);
// The largest string attribute read (they name models and checkpoints).
inline constexpr std::size_t kMaxAttributeString = std::size_t(1) << 20;

// Refuses, with a DumpError naming `site`, a dataset of extent `dims` that keeps its
// values outside the file (external storage, a virtual dataset) or is split into more
// than kMaxChunks chunks; with Declared::MustFit also one that declares more bytes
// than the file can hold (see kMaxInflation). Call under hdf5Lock().
void checkDeclaredSize(hid_t dataset, const std::vector<hsize_t> &dims, const Site &site,
                       Declared declared = Declared::MustFit);

} // namespace moescope::io
