#pragma once
// Checkpoints of one run side by side (analyses.md): dumps of the same tokens compared
// with a reference checkpoint, layer by layer (matched by name). The choices are
// streamed in chunks of positions from every dump at once (recorded topk_ids, or the
// logits routed by the dump's own rules), so memory stays bounded whatever T is.
//
// Thread-safety: synchronous, any thread. Throws CheckpointMismatch when the dumps
// are not of the same tokens, DumpError on malformed data, Cancelled when asked.
#include "io/Progress.h"
#include "io/RoutingDump.h"
#include "routing/RoutingBackend.h"
#include "stats/CheckpointFigures.h"

#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace moescope {

// Dumps that cannot be compared; the message names both files and the first difference.
struct CheckpointMismatch : std::runtime_error {
    using std::runtime_error::runtime_error;
};

struct CheckpointLayer {
    std::string name;
    CheckpointLayerFigures figures; // checkpoints in the order the dumps were given
};

struct CheckpointComparison {
    std::vector<std::string> files;                 // as given
    std::vector<std::optional<std::int64_t>> steps; // their checkpoint_step
    std::size_t reference = 0;                      // index into files
    std::vector<std::size_t> order;                 // step order (the given order without steps)
    int numExperts = 0, topK = 0;
    std::int64_t tokens = 0;
    std::vector<CheckpointLayer> layers;            // the layers every dump has, in the first dump's order
    std::vector<std::string> warnings;              // layers left out
};

// The default reference: the dump with the highest checkpoint_step, else the last given.
std::size_t defaultReference(const std::vector<const DumpInfo *> &infos);

// Throws CheckpointMismatch unless every dump holds the first one's tokens (same T,
// same ids in the same order) with the same E and k.
void checkSameTokens(const std::vector<const RoutingDump *> &dumps, const Progress &progress = {});

struct CompareRequest {
    std::optional<std::size_t> reference;  // index into the dumps; nullopt: defaultReference
    RoutingBackend *backend = nullptr;     // routes layers without topk_ids; null: a CPU backend
    std::uint64_t chunkRows = 0;           // positions per chunk; 0: about 64k
};

CheckpointComparison compareCheckpoints(const std::vector<const RoutingDump *> &dumps,
                                        const CompareRequest &request = {}, const Progress &progress = {});

} // namespace moescope
