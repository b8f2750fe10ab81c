#pragma once
// What a routing dump holds, as plain values read once when it is opened
// (docs/dump-format.md). Large arrays (logits, choices, token ids) are not
// here: RoutingDump reads them in chunks on request.
#include "common/LogitsType.h"
#include "routing/RoutingRules.h"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace moescope {

struct LayerInfo {
    std::string name;                 // the group name under /layers
    std::optional<std::int64_t> index; // the group's `index` attribute
    bool hasLogits = false;
    bool hasTopkIds = false;
    bool hasTopkWeights = false;
    bool hasExpertBias = false;
    LogitsType logitsType = LogitsType::Float32; // as stored (when hasLogits)
    std::string logitsStorage;        // how they are stored, for `info` (CompressedChunks.h)
    // Rows per stored chunk (0: contiguous). Reads of whole chunks decode each once.
    std::uint64_t logitsChunkRows = 0, topkIdsChunkRows = 0;
    bool logitsAreProbabilities = false; // detected on the first chunk (see spec)
    std::vector<double> expertBias;   // [E] when hasExpertBias
    // The stored `counts` [E] (tokens that chose each expert), read as numbers. A layer
    // with counts but neither logits nor topk_ids is load-only; one with counts and
    // choices keeps them here so they can be compared with what the choices count.
    bool hasCounts = false;
    std::vector<double> storedCounts;
    bool loadOnly() const { return hasCounts && !hasLogits && !hasTopkIds; }
};

struct DumpInfo {
    std::string path;
    int formatVersion = 1;
    int numExperts = 0;               // E
    int topK = 0;                     // k
    Scoring scoring = Scoring::Softmax;
    bool normalizeTopK = true;
    int numGroups = 0;
    int topKGroups = 0;
    double routedScalingFactor = 1.0;
    double capacityFactor = 0.0;      // 0: dropless / not given
    std::string model, checkpoint;
    std::optional<std::int64_t> checkpointStep;

    std::int64_t numTokens = 0;       // T
    // False for a load-only dump without /tokens (T from the root attribute
    // num_tokens): token ids read as 0 and there is no vocabulary.
    bool hasTokens = true;
    std::vector<std::int64_t> sequenceOffsets; // S + 1 entries, first 0, last T
    std::vector<std::string> sequenceLabels;   // S entries, or empty
    std::int64_t vocabSize = 0;       // V, 0 when there is no /tokens/vocab
    std::vector<LayerInfo> layers;    // in model order (index, else name)
    bool hasTraining = false;
    std::vector<std::string> warnings; // things the user should know, not fatal

    bool anyLoadOnly() const
    {
        for (const auto &l : layers)
            if (l.loadOnly())
                return true;
        return false;
    }
    std::int64_t numSequences() const { return std::int64_t(sequenceOffsets.size()) - 1; }
    // The rules the model routed with at `layer`, from the root attributes.
    RoutingRules routingRules(std::size_t layer) const;
};

// The optional /training series: N records of L layers (and E experts).
struct TrainingSeries {
    std::vector<std::int64_t> steps;          // [N]
    std::vector<double> lbLoss;               // [N * L], empty when absent
    std::vector<double> zLoss;                // [N * L], empty when absent
    std::vector<std::int64_t> tokensPerExpert; // [N * L * E], empty when absent
    std::size_t numLayers = 0, numExperts = 0;
    std::size_t numRecords() const { return steps.size(); }
};

} // namespace moescope
