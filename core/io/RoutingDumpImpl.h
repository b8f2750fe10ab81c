#pragma once
// Internal to core/io: what RoutingDump holds, shared by its two halves:
// DumpSchema.cpp (opening and checking the whole schema) and RoutingDump.cpp (reading
// rows on request).
#include "io/CompressedChunks.h"
#include "io/IntegerColumn.h"
#include "io/Hdf5Objects.h"
#include "io/RoutingDump.h"

#include <optional>
#include <vector>

namespace moescope {

// One layer's open datasets and where each is in the file (for messages).
struct LayerHandles {
    io::Handle group, logits, topkIds, topkWeights;
    io::Site logitsSite, idsSite, weightsSite;
    H5T_order_t logitsOrder = H5T_ORDER_LE;
    std::optional<io::ChunkLayout> logitsChunks; // set when the logits can be inflated here
    // How topk_ids are stored: read as stored (no HDF5 conversion), widened here.
    std::size_t idsWidth = 0;                 // bytes per id: 1, 2, 4 or 8
    bool idsSigned = true;
    H5T_order_t idsOrder = H5T_ORDER_LE;
    std::optional<io::ChunkLayout> idsChunks; // set when the ids can be inflated here
};

struct RoutingDump::Impl {
    DumpInfo info;
    io::Handle file, tokenIds, vocab, training;
    io::Site idsSite, vocabSite;
    io::IntegerColumn idsColumn; // how /tokens/ids is stored, for reading it
    std::vector<LayerHandles> layers;

    void openFile(const std::string &path);
    void openImage(const std::string &name, FileImage image);
    void readSchema(); // everything after the file is open
    void readRootAttributes();
    void readTokens();
    void readLayers();
    void readLayer(const std::string &name, const io::Handle &layersGroup, LayerInfo &info, LayerHandles &h);
    void checkTraining();
    void detectProbabilities(std::size_t layer);

    void readLogitsFloat(std::size_t layer, std::uint64_t begin, std::uint64_t count, float *out) const;
    void readHalves(std::size_t layer, std::uint64_t begin, std::uint64_t count, std::uint16_t *out) const;
    void readLogitsDouble(std::size_t layer, std::uint64_t begin, std::uint64_t count, double *out) const;
    // Logits as stored, put in host byte order, when they come from compressed chunks
    // decoded here (CompressedChunks.h); false: read them through HDF5.
    bool readInflated(std::size_t layer, std::uint64_t begin, std::uint64_t count, void *out) const;
    // Where a layer's logits lie in the file when they are stored contiguous and
    // uncompressed in a plain file (HDF5's default driver): its descriptor and the
    // dataset's byte offset. Empty otherwise.
    struct PlainExtent {
        int fd = -1;
        std::uint64_t offset = 0;
    };
    std::optional<PlainExtent> plainLogits(std::size_t layer) const;
    // Logits rows as stored, `rowBytes` each, read with pread() straight from the file
    // when plainLogits has them; false: read them through HDF5.
    bool readPlain(std::size_t layer, std::uint64_t begin, std::uint64_t count, std::uint64_t rowBytes,
                   void *out) const;
    io::Site root() const { return {info.path, "/"}; }
};

} // namespace moescope
