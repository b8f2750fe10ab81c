#pragma once
// Internal to core/io: what RoutingDump holds, shared by its two halves:
// DumpSchema.cpp (opening and checking the whole schema) and RoutingDump.cpp (reading
// rows on request).
#include "io/Hdf5Objects.h"
#include "io/RoutingDump.h"

#include <vector>

namespace moescope {

// One layer's open datasets and where each is in the file (for messages).
struct LayerHandles {
    io::Handle group, logits, topkIds, topkWeights;
    io::Site logitsSite, idsSite, weightsSite;
    H5T_order_t logitsOrder = H5T_ORDER_LE;
};

struct RoutingDump::Impl {
    DumpInfo info;
    io::Handle file, tokenIds, vocab, training;
    io::Site idsSite, vocabSite;
    std::vector<LayerHandles> layers;

    void openFile(const std::string &path);
    void readRootAttributes();
    void readTokens();
    void readLayers();
    void readLayer(const std::string &name, const io::Handle &layersGroup, LayerInfo &info, LayerHandles &h);
    void checkTraining();
    void detectProbabilities(std::size_t layer);

    void readLogitsFloat(std::size_t layer, std::uint64_t begin, std::uint64_t count, float *out) const;
    void readHalves(std::size_t layer, std::uint64_t begin, std::uint64_t count, std::uint16_t *out) const;
    void readLogitsDouble(std::size_t layer, std::uint64_t begin, std::uint64_t count, double *out) const;
    io::Site root() const { return {info.path, "/"}; }
};

} // namespace moescope
