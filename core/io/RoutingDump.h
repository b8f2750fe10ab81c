#pragma once
// The reader of a routing dump (docs/dump-format.md). Opening checks the
// whole schema and reads the small parts (attributes, offsets, labels, biases);
// large arrays are read on request, by rows, so memory stays bounded whatever the
// file's size. The file is opened read-only.
//
// Thread-safety: any thread may call any const method; calls into HDF5 are
// serialised by the io door. Every method throws DumpError on malformed or
// unreadable data, naming the file and the object.
#include "io/DumpError.h"
#include "io/DumpInfo.h"
#include "io/FileImage.h"
#include "io/MappedRows.h"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace moescope {

class RoutingDump {
public:
    explicit RoutingDump(const std::string &path);
    // The same checks on a file held in memory (FileImage.h); `name` stands for the
    // file in messages and must not name an existing file.
    RoutingDump(const std::string &name, FileImage image);
    ~RoutingDump();
    RoutingDump(const RoutingDump &) = delete;
    RoutingDump &operator=(const RoutingDump &) = delete;

    const DumpInfo &info() const;

    // Token ids of positions [begin, begin + count).
    std::vector<std::int64_t> readTokenIds(std::uint64_t begin, std::uint64_t count) const;
    // The decoded text of every token id; empty when the dump has no vocab.
    std::vector<std::string> readVocab() const;

    // Logits rows [begin, begin + count) of `layer` (position in info().layers) as
    // row-major [count, E]. float16 is converted here, float64 rounded for the float
    // overload (finite values stay finite).
    void readLogits(std::size_t layer, std::uint64_t begin, std::uint64_t count, float *out) const;
    void readLogits(std::size_t layer, std::uint64_t begin, std::uint64_t count, double *out) const;
    // float16 layers only (DumpError otherwise): the raw IEEE binary16 bits in host byte
    // order, unconverted, for engines that convert them on the fly.
    void readLogits(std::size_t layer, std::uint64_t begin, std::uint64_t count, std::uint16_t *out) const;
    // The same halves in place, mapped from the file, when the layer's logits are
    // stored contiguous, uncompressed and in host byte order; otherwise empty (read
    // them with readLogits). For a caller that wants no copy: the analysis pass reads
    // instead, as routing from mapped page-cache pages is slower than the copy.
    io::MappedRows mapHalves(std::size_t layer, std::uint64_t begin, std::uint64_t count) const;

    // Recorded choices [count, k]; every id is checked to lie in [0, E).
    void readTopkIds(std::size_t layer, std::uint64_t begin, std::uint64_t count, std::int32_t *out) const;
    void readTopkWeights(std::size_t layer, std::uint64_t begin, std::uint64_t count, float *out) const;

    TrainingSeries readTraining() const;

private:
    struct Impl;
    std::unique_ptr<Impl> d;
};

// The text shown for a token id: its vocab entry, or "#id" without one.
std::string tokenText(const std::vector<std::string> &vocab, std::int64_t id);

} // namespace moescope
