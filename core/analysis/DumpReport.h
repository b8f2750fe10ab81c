#pragma once
// The per-layer health report of a dump: what `moescope stats` and `route` print and
// what the overview shows. Built from one LayerPass per layer by the analysis
// pipeline (AnalysisPipeline.h).
#include "analysis/LayerPass.h"
#include "stats/CapacityDrops.h"
#include "stats/LoadMetrics.h"
#include "stats/TokenLocality.h"
#include "stats/VocabularySpecialisation.h"

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace moescope {

struct LayerReport {
    std::size_t position = 0;
    std::string name;
    std::optional<std::int64_t> index;
    bool choicesRecorded = false;
    bool countsOnly = false;             // a load-only layer: drops and invalid tokens unknown
    std::int64_t tokens = 0;             // T: the valid tokens of the layer
    std::int64_t invalidTokens = 0;
    std::vector<std::int64_t> counts;    // c[e]
    LoadMetrics load;
    std::optional<double> lbLoss, zLoss; // nullopt without logits (z also with probabilities)
    DropReport drops;
    std::map<std::string, std::vector<double>> labelShares;
    std::optional<double> agreement;     // route only: re-routed vs recorded
    TokenLocality locality;              // consecutive tokens at the same expert (analyses.md)
    std::optional<VocabularySpecialisation> vocabulary; // when the token ids were given
};

// How a layer's report counts drops: the capacity factor and the capacity simulation.
struct ReportRequest {
    double capacityFactor = kDefaultCapacityFactor;
    CapacityRequest drops;               // policy and grouping (its capacityFactor is ignored)
    const TokenPositions *tokenPositions = nullptr; // the dump's token ids: vocabulary specialisation
    std::int64_t vocabularyMinCount = kDefaultVocabularyMinCount;
};

struct DumpReport {
    std::string file;
    std::int64_t tokens = 0;
    int numExperts = 0, topK = 0;
    double capacityFactor = 0;
    std::vector<LayerReport> layers;
    std::vector<std::string> warnings;
};

// The report of one layer from its pass (kept separate so the UI can reuse passes).
LayerReport layerReport(const DumpInfo &info, std::size_t position, const LayerPass &pass,
                        const ReportRequest &request);

// One message per layer whose stored `counts` (the recorder's summary) disagree with
// the counts of its recorded choices: the file is inconsistent and the user must know.
// Layers without stored counts, or whose choices were routed here, are not checked.
std::vector<std::string> storedCountsWarnings(const DumpInfo &info, const DumpReport &report);

// The capacity factor a command uses: the one asked for, else the dump's own when it
// has one (> 0), else the default 1.25.
double effectiveCapacityFactor(const DumpInfo &info, std::optional<double> requested);

} // namespace moescope
