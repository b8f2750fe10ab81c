#pragma once
// What an importer makes of another tool's routing record before it is written as a
// routing dump (docs/dump-format.md): the layers with their choices, logits or counts,
// the sequences, and where the record came from. Plain data; io/DumpWriter.h writes
// it, checking every rule of the dump format on the way.
#include "common/LargeBuffer.h"

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace moescope::import {

// One MoE layer. Per-token data has T rows (ImportedRecord::numTokens); a load-only
// layer holds `counts` alone.
struct ImportedLayer {
    std::string name;                  // the group name under /layers
    std::optional<std::int64_t> index; // the model's layer order (written as `index`)
    // The per-token arrays are LargeVectors (common/LargeBuffer.h): fresh pages, not
    // zeroed then faulted in one by one; fill them with resize() then writes, or assign().
    LargeVector<std::int16_t> choices; // [T * k] expert ids (E <= 4096), best first; -1: no choice
    LargeVector<float> weights;        // [T * k] gate weights of `choices`; empty: none
    LargeVector<float> logits;         // [T * E] router logits (written as float32); empty: none
    std::vector<double> counts;        // [E] tokens that chose each expert; empty: none
    // The choices are not held here but streamed into the file by the record's
    // streamChoices (for sources too large to hold twice); `choices` stays empty.
    bool streamed = false;
};

// Where streamChoices puts rows of a streamed layer's choices; callable from any thread.
class ChoiceSink {
public:
    virtual ~ChoiceSink() = default;
    // Rows [firstRow, firstRow + rows) of layer `layer` (its position in `layers`), k ids each.
    virtual void write(std::size_t layer, std::int64_t firstRow, std::int64_t rows, const std::int16_t *ids) = 0;
};

// What a choice stream settles once it has read everything.
struct StreamedFacts {
    int numExperts = 0;                // E, when the record left it 0
    std::vector<std::string> warnings; // added to the record's
};

// /training: a run log of N records over the L layers (in `layerNames` order).
struct ImportedTraining {
    std::vector<std::int64_t> steps;           // [N]
    std::vector<std::string> layerNames;       // [L]
    std::vector<std::int64_t> tokensPerExpert; // [N * L * E]; empty: none
    std::vector<double> lbLoss, zLoss;         // [N * L]; empty: none
    bool empty() const { return steps.empty(); }
};

struct ImportedRecord {
    int numExperts = 0; // E
    int topK = 0;       // k of every layer's choices (for load-only dumps: any 1 .. E)
    std::int64_t numTokens = 0; // T
    std::vector<ImportedLayer> layers;

    // /tokens. Without token ids a record with per-token layers gets ids 0 and no
    // vocabulary; a record without per-token layers writes no /tokens at all (a
    // load-only dump: the root attribute num_tokens says T).
    std::vector<std::int64_t> tokenIds;        // [T]; empty: none known
    std::vector<std::string> vocab;            // [V]; empty: none
    std::vector<std::int64_t> sequenceOffsets; // [S + 1]; empty: one sequence
    std::vector<std::string> sequenceLabels;   // [S]; empty: none

    ImportedTraining training;

    std::string scoring = "softmax"; // how the logits become scores
    // Further root attributes: `source` (the tool and format), its version or layout,
    // `model`, ... Strings and numbers.
    std::map<std::string, std::string> stringAttributes;
    std::map<std::string, double> numberAttributes;

    // Said to the user, not fatal (E taken from the ids seen, logits left out, ...).
    std::vector<std::string> warnings;

    // For streamed layers: called once while the dump is being written (the HDF5 door
    // unlocked, so it may use threads), it writes every row of every streamed layer
    // through the sink, throwing DumpError on a bad source. numExperts may be 0 until
    // then: the stream settles it (StreamedFacts), and the writer checks E and k after.
    std::function<StreamedFacts(ChoiceSink &)> streamChoices;

    bool hasPerTokenLayers() const
    {
        for (const ImportedLayer &l : layers)
            if (!l.choices.empty() || !l.logits.empty() || l.streamed)
                return true;
        return false;
    }
};

} // namespace moescope::import
