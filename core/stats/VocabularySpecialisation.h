#pragma once
// Vocabulary specialisation (OLMoE, section 5): how faithfully each token id goes to
// one expert (analyses.md). For id v occurring n_v times among the layer's valid
// tokens, with m[v, e] the occurrences whose chosen experts include e, v's
// specialisation is max_e m[v, e] / n_v; the layer figure is the unweighted mean over
// ids with n_v >= minCount, the expert figure the mean over the ids whose most
// frequent expert (ties: the lower id) is e. Plain computation, no I/O.
#include "stats/LayerChoices.h"
#include "stats/TokenPositions.h"

#include <cstdint>
#include <vector>

namespace moescope {

inline constexpr std::int64_t kDefaultVocabularyMinCount = 10;

struct SpecialisationFigures {
    double layer = 0;                    // mean over the counted ids; NaN when none
    std::vector<double> perExpert;       // [E] mean over the ids whose expert is e; NaN when none
    std::vector<std::int64_t> expertIds; // [E] how many ids each expert's mean covers
};

struct VocabularySpecialisation {
    std::int64_t ids = 0;                // ids with n_v >= minCount
    std::int64_t minCount = kDefaultVocabularyMinCount;
    SpecialisationFigures top1;          // with k = 1: the best expert only
    SpecialisationFigures topK;          // with the layer's k
};

// positions: the dump's token ids indexed (TokenPositions over /tokens/ids, T positions
// as the choices).
VocabularySpecialisation vocabularySpecialisation(const LayerChoices &choices, const TokenPositions &positions,
                                                  std::int64_t minCount = kDefaultVocabularyMinCount);

} // namespace moescope
