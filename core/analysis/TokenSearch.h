#pragma once
// The reverse search over a whole dump: where given token ids go at every layer.
// Answered from the ids' positions alone (TokenPositions), never by a scan of all T
// tokens: each layer in memory is gathered at those positions, each layer that is not
// is read from the dump only for the stored chunks that hold them (LayerStore::rowsAt),
// and a layer's c[e] and T come from its report. Layers are spread over the cores.
//
// Memory: the answers, plus per thread a few bands of rows while it reads (about 3 x
// LayerStore::kRowsBandBytes); no layer is added to the store, so a search never
// evicts what the views hold.
// Thread-safety: reads an immutable analysis; any thread may call it.
#include "analysis/DumpAnalysis.h"
#include "stats/ExpertProfile.h"
#include "stats/TokenPositions.h"

#include <vector>

namespace moescope {

// result[l][i] answers wanted[i] at layer l exactly as routingOfTokens does over that
// layer's choices (experts ascending; a repeated id answered at its first place only;
// nothing for a load-only layer). `positions` indexes a.tokenIds. `threads`: 0 for
// one per core, at most 8. Throws what LayerStore::rowsAt throws (DumpError, Cancelled).
std::vector<std::vector<std::vector<TokenShare>>> routingOfTokensAtEveryLayer(const DumpAnalysis &a,
                                                                              const TokenPositions &positions,
                                                                              const std::vector<std::int64_t> &wanted,
                                                                              const Progress &progress = {},
                                                                              unsigned threads = 0);

} // namespace moescope
