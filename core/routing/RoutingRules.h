#pragma once
// The rules a router follows to turn one token's logits into its chosen experts and
// gate weights (docs/routing.md, "Scoring and choice").
#include <vector>

namespace moescope {

enum class Scoring { Softmax, Sigmoid };

struct RoutingRules {
    Scoring scoring = Scoring::Softmax;
    int topK = 1;
    bool normalizeTopK = true;        // renormalise the k chosen weights to sum 1
    double routedScalingFactor = 1.0; // applied to the weights after normalisation
    int numGroups = 0;                // group-limited choice: 0 or 1 means off
    int topKGroups = 0;               // groups eligible when group-limited
    std::vector<double> expertBias;   // b[e] added for the choice only; empty = 0
    bool inputsAreProbabilities = false; // the "logits" already hold p[t, e]

    bool groupLimited() const { return numGroups > 1 && topKGroups > 0 && topKGroups < numGroups; }
    bool hasBias() const { return !expertBias.empty(); }
};

const char *scoringName(Scoring s);

} // namespace moescope
