#include "RoutingCases.h"

#include "io/Float16.h"
#include "support/DumpFixture.h"

#include <QtTest>

#include <algorithm>
#include <cmath>
#include <random>

namespace moescope::test {

const char *typeName(LogitsType t)
{
    return t == LogitsType::Float16 ? "f16" : t == LogitsType::Float32 ? "f32" : "f64";
}

void addRoutingCaseRows(const std::function<bool(int, int, LogitsType, const std::string &)> &keep)
{
    QTest::addColumn<int>("E");
    QTest::addColumn<int>("k");
    QTest::addColumn<int>("type");
    QTest::addColumn<QString>("variant");
    for (int E : {1, 2, 3, 5, 8, 16, 24, 33, 64, 100, 256})
        for (int k = 1; k <= std::min(8, E); ++k)
            for (LogitsType type : {LogitsType::Float16, LogitsType::Float32, LogitsType::Float64})
                for (const std::string &v : ruleVariants(E)) {
                    if (!keep(E, k, type, v))
                        continue;
                    const QByteArray name = QByteArray("E") + QByteArray::number(E) + "_k" + QByteArray::number(k) +
                                            "_" + typeName(type) + "_" + v.c_str();
                    QTest::newRow(name.constData()) << E << k << int(type) << QString::fromStdString(v);
                }
}

LayerChoices choicesOf(const BackendRun &run, int E, int k)
{
    LayerChoices c;
    c.numExperts = E;
    c.topK = k;
    c.ids.assign(run.ids.begin(), run.ids.end());
    c.valid.assign(run.valid.begin(), run.valid.end());
    c.gateProbs.assign(run.gateProbs.begin(), run.gateProbs.end());
    return c;
}

LayerChoices makePairChoices(std::int64_t T, int E, int k, unsigned seed)
{
    std::mt19937 rng(seed);
    std::uniform_real_distribution<double> unit(0.0, 1.0);
    // u squared: low ids come up often, high ids rarely.
    auto draw = [&] { return std::min(E - 1, int(E * std::pow(unit(rng), 2.0))); };
    LayerChoices c;
    c.numExperts = E;
    c.topK = k;
    c.ids.resize(std::size_t(T) * std::size_t(k));
    c.valid.resize(std::size_t(T));
    for (std::int64_t t = 0; t < T; ++t) {
        std::int32_t *row = c.ids.data() + std::size_t(t) * std::size_t(k);
        c.valid[std::size_t(t)] = unit(rng) >= 1.0 / 16;
        if (!c.valid[std::size_t(t)]) {
            // Ids no count may read: out of range (a device would flag them) or plausible
            // (they would change the counts).
            const bool outOfRange = unit(rng) < 0.5;
            for (int i = 0; i < k; ++i)
                row[i] = outOfRange ? (i % 2 ? E : -1) : draw();
            continue;
        }
        for (int i = 0; i < k; ++i) {
            // Distinct ids while there are experts enough, as routing chooses them.
            do
                row[i] = draw();
            while (k <= E && std::find(row, row + i, row[i]) != row + i);
        }
        if (k > 1 && unit(rng) < 1.0 / 8) {
            const int i = int(unit(rng) * (k - 1)); // row[i] again, at a later slot
            row[i + 1 + int(unit(rng) * (k - 1 - i))] = row[i];
        }
    }
    return c;
}

RoutingCase fetchRoutingCase(int T)
{
    QFETCH(int, E);
    QFETCH(int, k);
    QFETCH(int, type);
    QFETCH(QString, variant);
    RoutingCase c;
    c.E = E;
    c.k = k;
    c.type = LogitsType(type);
    c.variant = variant.toStdString();
    const unsigned seed = unsigned(E * 131 + k * 7 + type);
    c.logits = makeLogits(T, E, c.type, seed, c.variant == "probabilities");
    c.rules = makeRules(c.variant, E, k, seed);
    c.ref = referenceRoute(c.logits.seen, T, E, c.rules);
    return c;
}

LogitsView TestLogits::view() const { return rows(0, std::size_t(T)); }

LogitsView TestLogits::rows(std::size_t begin, std::size_t count) const
{
    LogitsView v;
    v.type = type;
    v.rows = count;
    v.numExperts = E;
    const std::size_t at = begin * std::size_t(E);
    if (type == LogitsType::Float16)
        v.data = halves.data() + at;
    else if (type == LogitsType::Float32)
        v.data = floats.data() + at;
    else
        v.data = doubles.data() + at;
    return v;
}

TestLogits makeLogits(int T, int E, LogitsType type, unsigned seed, bool probabilities)
{
    std::mt19937 rng(seed);
    std::normal_distribution<double> normal(0.0, 1.0);
    std::uniform_int_distribution<int> expert(0, E - 1);
    std::vector<double> offset(E);
    for (double &o : offset)
        o = normal(rng) * 1.5; // some experts are favoured, as in real routers
    const double huge = type == LogitsType::Float16 ? 60000.0 : 1e30;

    std::vector<double> raw(std::size_t(T) * E);
    for (int t = 0; t < T; ++t) {
        double *z = raw.data() + std::size_t(t) * E;
        for (int e = 0; e < E; ++e)
            z[e] = normal(rng) + offset[e];
        if (probabilities) {
            const double m = *std::max_element(z, z + E);
            double sum = 0;
            for (int e = 0; e < E; ++e)
                sum += (z[e] = std::exp(z[e] - m));
            for (int e = 0; e < E; ++e)
                z[e] /= sum;
            if (t % 29 == 3) // exact ties among probabilities
                for (int e = 0; e < E; ++e)
                    z[e] = 1.0 / E;
            continue;
        }
        if (t % 13 == 3) // exact ties everywhere: the lower id must win
            for (int e = 0; e < E; ++e)
                z[e] = std::round(z[e] * 2.0) / 2.0;
        if (t % 23 == 8)
            std::fill(z, z + E, 0.75);
        if (t % 17 == 4) { // -0 and +0 tie at the top
            for (int e = 0; e < E; ++e)
                z[e] = -1.0 - std::abs(z[e]);
            z[expert(rng)] = -0.0;
            z[expert(rng)] = 0.0;
        }
        if (t % 19 == 6) // a range exp() cannot span
            for (int e = 0; e < E; ++e)
                z[e] = (e % 3 == 0 ? huge : -huge) * (0.5 + 0.01 * (e % 7));
        if (t % 97 == 5)
            z[expert(rng)] = NAN;
        if (t % 101 == 7)
            z[expert(rng)] = INFINITY;
        if (t % 103 == 9)
            z[expert(rng)] = -INFINITY;
    }

    TestLogits l;
    l.T = T;
    l.E = E;
    l.type = type;
    l.seen.resize(raw.size());
    if (type == LogitsType::Float16) {
        l.halves.resize(raw.size());
        for (std::size_t i = 0; i < raw.size(); ++i) {
            l.halves[i] = floatToHalf(float(raw[i]));
            l.seen[i] = double(halfToFloat(l.halves[i]));
        }
    } else if (type == LogitsType::Float32) {
        l.floats.resize(raw.size());
        for (std::size_t i = 0; i < raw.size(); ++i)
            l.seen[i] = l.floats[i] = float(raw[i]);
    } else {
        l.doubles = raw;
        l.seen = raw;
    }
    return l;
}

std::vector<std::string> ruleVariants(int E)
{
    std::vector<std::string> v{"softmax", "sigmoid", "unnormalised", "bias", "sigmoid-bias", "probabilities"};
    if (E >= 4 && E % 2 == 0)
        v.push_back("groups");
    return v;
}

RoutingRules makeRules(const std::string &variant, int E, int k, unsigned seed)
{
    RoutingRules r;
    r.topK = k;
    std::mt19937 rng(seed);
    std::normal_distribution<double> normal(0.0, 0.05);
    auto randomBias = [&] {
        std::vector<double> b(E);
        for (double &v : b)
            v = normal(rng);
        return b;
    };
    if (variant == "sigmoid" || variant == "sigmoid-bias")
        r.scoring = Scoring::Sigmoid;
    if (variant == "unnormalised") {
        r.normalizeTopK = false;
        r.routedScalingFactor = 2.5;
    }
    if (variant == "bias" || variant == "sigmoid-bias")
        r.expertBias = randomBias();
    if (variant == "probabilities")
        r.inputsAreProbabilities = true;
    if (variant == "groups") {
        // DeepSeek-V3 style: sigmoid, bias, groups; keep enough experts eligible for k.
        r.scoring = Scoring::Sigmoid;
        r.expertBias = randomBias();
        r.numGroups = E % 8 == 0 && E >= 16 ? 8 : E % 4 == 0 ? 4 : 2;
        const int size = E / r.numGroups;
        r.topKGroups = std::max(1, std::min(r.numGroups - 1, (k + size - 1) / size));
        if (r.topKGroups * size < k)
            r.topKGroups = r.numGroups; // not group-limited after all
    }
    return r;
}

BackendRun runBackend(RoutingBackend &backend, const TestLogits &logits, const RoutingRules &rules,
                      std::size_t chunkRows, bool wantOutputs)
{
    const std::size_t T = std::size_t(logits.T), k = std::size_t(rules.topK);
    BackendRun run;
    run.ids.assign(T * k, -1);
    run.valid.assign(T, 2);
    if (wantOutputs) {
        run.weights.assign(T * k, -1.0f);
        run.gateProbs.assign(T * k, -1.0f);
    }
    if (chunkRows == 0)
        chunkRows = T;
    for (std::size_t begin = 0; begin < T; begin += chunkRows) {
        const std::size_t rows = std::min(chunkRows, T - begin);
        ChunkOutput out;
        out.ids = run.ids.data() + begin * k;
        out.valid = run.valid.data() + begin;
        if (wantOutputs) {
            out.weights = run.weights.data() + begin * k;
            out.gateProbs = run.gateProbs.data() + begin * k;
        }
        backend.route(logits.rows(begin, rows), rules, out, run.totals);
    }
    return run;
}

namespace {
bool close(double a, double b, double rtol, double atol = 1e-9)
{
    return std::abs(a - b) <= atol + rtol * std::max(std::abs(a), std::abs(b));
}
} // namespace

QString compareWithReference(const ReferenceLayer &ref, const BackendRun &run, double keyTolerance,
                             double sumTolerance)
{
    const int E = ref.numExperts, k = ref.topK;
    const auto T = int(ref.valid.size());
    std::vector<std::int64_t> implied(E, 0);
    int differentRows = 0;
    for (int t = 0; t < T; ++t) {
        if (run.valid[t] != ref.valid[t])
            return QString("row %1: valid %2, reference %3").arg(t).arg(run.valid[t]).arg(ref.valid[t]);
        if (!ref.valid[t])
            continue;
        const std::int32_t *got = run.ids.data() + std::size_t(t) * k;
        const std::int32_t *want = ref.ids.data() + std::size_t(t) * k;
        for (int i = 0; i < k; ++i) {
            if (got[i] < 0 || got[i] >= E)
                return QString("row %1 slot %2: expert %3 out of range").arg(t).arg(i).arg(got[i]);
            ++implied[got[i]];
        }
        if (std::equal(got, got + k, want))
            continue;
        ++differentRows;
        auto describe = [&] {
            QString s = QString("row %1: got").arg(t);
            for (int i = 0; i < k; ++i)
                s += QString(" %1").arg(got[i]);
            s += ", reference";
            for (int i = 0; i < k; ++i)
                s += QString(" %1(%2)").arg(want[i]).arg(ref.keys[std::size_t(t) * E + want[i]], 0, 'g', 17);
            return s;
        };
        if (keyTolerance < 0)
            return describe();
        // A near-tie flip: slot by slot the keys must match within tolerance, no
        // expert twice, no ineligible expert.
        for (int i = 0; i < k; ++i) {
            const double kg = ref.keys[std::size_t(t) * E + got[i]];
            const double kw = ref.keys[std::size_t(t) * E + want[i]];
            if (!std::isfinite(kg) || !close(kg, kw, keyTolerance, keyTolerance) ||
                std::count(got, got + k, got[i]) != 1)
                return describe() + " (not a near tie)";
        }
    }
    if (keyTolerance >= 0 && differentRows > std::max(3, T / 50))
        return QString("%1 rows chose differently: too many for near ties").arg(differentRows);
    if (run.totals.counts != implied)
        return "counts do not match the ids written";
    if (keyTolerance < 0 && run.totals.counts != ref.counts)
        return "counts differ from the reference";
    if (run.totals.validRows != ref.validRows || run.totals.invalidRows != T - ref.validRows)
        return QString("valid rows %1, reference %2").arg(run.totals.validRows).arg(ref.validRows);
    for (int e = 0; e < E; ++e)
        if (!close(run.totals.probSum[e], ref.probSum[e], sumTolerance, 1e-6))
            return QString("probSum[%1] %2, reference %3")
                .arg(e)
                .arg(run.totals.probSum[e], 0, 'g', 12)
                .arg(ref.probSum[e], 0, 'g', 12);
    if (!close(run.totals.zSquaredSum, ref.zSquaredSum, sumTolerance))
        return QString("zSquaredSum %1, reference %2")
            .arg(run.totals.zSquaredSum, 0, 'g', 12)
            .arg(ref.zSquaredSum, 0, 'g', 12);
    for (int t = 0; t < T && !run.weights.empty(); ++t) {
        if (!ref.valid[t])
            continue;
        const std::size_t at = std::size_t(t) * k;
        if (!std::equal(run.ids.begin() + at, run.ids.begin() + at + k, ref.ids.begin() + at))
            continue; // a near-tie row: other experts, other weights
        for (int i = 0; i < k; ++i) {
            if (!close(run.weights[at + i], ref.weights[at + i], sumTolerance, 1e-7))
                return QString("row %1 weight %2: %3, reference %4").arg(t).arg(i).arg(run.weights[at + i]).arg(ref.weights[at + i]);
            if (!close(run.gateProbs[at + i], ref.gateProbs[at + i], sumTolerance, 1e-7))
                return QString("row %1 gate %2: %3, reference %4").arg(t).arg(i).arg(run.gateProbs[at + i]).arg(ref.gateProbs[at + i]);
        }
    }
    return {};
}

} // namespace moescope::test
