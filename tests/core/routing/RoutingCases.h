#pragma once
// Test data and checks shared by the CPU and OpenCL backend tests: random logits with
// the awkward rows routing must survive (exact ties, -0 against +0, NaN and infinity,
// huge ranges), the rule variants of routing.md, and a comparison of a backend's
// output with the in-test reference (RoutingReference.h).
#include "RoutingReference.h"

#include "routing/RoutingBackend.h"
#include "stats/LayerChoices.h"

#include <QString>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace moescope::test {

struct TestLogits {
    int T = 0, E = 0;
    LogitsType type = LogitsType::Float32;
    std::vector<std::uint16_t> halves;
    std::vector<float> floats;
    std::vector<double> doubles;
    std::vector<double> seen; // [T * E] the values as the backend sees them
    LogitsView view() const;
    LogitsView rows(std::size_t begin, std::size_t count) const;
};

// probabilities: rows of non-negative values summing to 1 instead of logits.
TestLogits makeLogits(int T, int E, LogitsType type, unsigned seed, bool probabilities = false);

// The named rule variants; "groups" exists only where E splits into groups.
std::vector<std::string> ruleVariants(int E);
RoutingRules makeRules(const std::string &variant, int E, int k, unsigned seed);

const char *typeName(LogitsType t);

// One row of the backends' matchesReference tables: a shape, a logits type and a rule
// variant, with the logits, rules and reference routing they give (seeded by the row).
struct RoutingCase {
    int E = 0, k = 0;
    LogitsType type = LogitsType::Float32;
    std::string variant;
    TestLogits logits;
    RoutingRules rules;
    ReferenceLayer ref;
};

// Adds the rows (columns E, k, type, variant) of every case `keep` accepts, among E
// from 1 to 256, k from 1 to min(8, E), three logits types and every rule variant.
void addRoutingCaseRows(const std::function<bool(int E, int k, LogitsType type, const std::string &variant)> &keep);
// The current row's case, with T tokens (inside a test fed by addRoutingCaseRows).
RoutingCase fetchRoutingCase(int T);

// What one backend produced for one layer.
struct BackendRun {
    std::vector<std::int32_t> ids;
    std::vector<float> weights, gateProbs;
    std::vector<std::uint8_t> valid;
    LossTotals totals;
};

// Routes `logits` with `backend` in chunks of `chunkRows` (0: one chunk).
BackendRun runBackend(RoutingBackend &backend, const TestLogits &logits, const RoutingRules &rules,
                      std::size_t chunkRows = 0, bool wantOutputs = true);

// Empty when `run` agrees with `ref`, else what differs. keyTolerance < 0: choices must
// be identical; else a row may choose differently only where the reference's keys are
// within keyTolerance (relative) of each other, slot by slot. sumTolerance: relative,
// for the loss sums, weights and gate probabilities.
QString compareWithReference(const ReferenceLayer &ref, const BackendRun &run, double keyTolerance,
                             double sumTolerance);

// A backend run as the statistics take it (E experts, k choices).
LayerChoices choicesOf(const BackendRun &run, int E, int k);

// Random choices of T tokens for the expert-pair tests, seeded: E experts, k ids a
// token (repeated ids when k > E), experts favoured unevenly so some pairs are
// common. About one token in 16 is invalid, its row holding ids no count may read
// (-1 and E in half of them, ids in range in the others); about one in 8 repeats an
// id when k > 1.
LayerChoices makePairChoices(std::int64_t T, int E, int k, unsigned seed);

} // namespace moescope::test
