// The CPU backend, every kernel this processor runs (scalar, AVX2, AVX-512), against
// the in-test reference: every rule of routing.md, E from 1 to 256, k from 1 to 8,
// float16/32/64, T = 1237 (no multiple of any chunk, part or register width).
#include "RoutingCases.h"
#include "RoutingReference.h"

#include "routing/BalanceSimulation.h"
#include "routing/CapacitySweep.h"
#include "routing/ExpertChoice.h"
#include "stats/CapacityDrops.h"
#include "stats/ExpertPairs.h"
#include "support/Throws.h"

#include <QTest>

#include <cmath>

using namespace moescope;
using namespace moescope::test;

namespace {

constexpr int kTokens = 1237;

std::vector<CpuKernel> kernelsHere()
{
    std::vector<CpuKernel> k{CpuKernel::Scalar};
    if (cpuKernelAvailable(CpuKernel::Avx2))
        k.push_back(CpuKernel::Avx2);
    if (cpuKernelAvailable(CpuKernel::Avx512))
        k.push_back(CpuKernel::Avx512);
    return k;
}

const std::vector<std::int64_t> kOffsets{0, 100, 101, 640, 1000, kTokens};

} // namespace

class CpuBackendTest : public QObject {
    Q_OBJECT

private slots:
    void initTestCase()
    {
        // The vector kernels must be exercised here, not silently replaced by the scalar path.
        QVERIFY2(cpuKernelAvailable(CpuKernel::Avx2), "this test machine is expected to have AVX2");
        qInfo("CPU kernels tested: %zu", kernelsHere().size());
    }

    void matchesReference_data()
    {
        addRoutingCaseRows([](int E, int k, LogitsType type, const std::string &) {
            // float64 adds nothing to the vector kernels (scalar path): fewer rows.
            return type != LogitsType::Float64 || k == 1 || k == std::min(8, E);
        });
    }

    void matchesReference()
    {
        const RoutingCase c = fetchRoutingCase(kTokens);
        for (CpuKernel kernel : kernelsHere()) {
            const auto backend = makeCpuBackend(2, kernel);
            // Uneven chunks, as the analysis pass streams them.
            const BackendRun run = runBackend(*backend, c.logits, c.rules, 509);
            const QString diff = compareWithReference(c.ref, run, -1.0, 2e-6);
            QVERIFY2(diff.isEmpty(), qPrintable(QString(cpuKernelName(kernel)) + ": " + diff));
        }
    }

    void withoutIdsOnlyValidityAndLosses()
    {
        const TestLogits logits = makeLogits(kTokens, 64, LogitsType::Float16, 5);
        RoutingRules rules;
        rules.topK = 2;
        const ReferenceLayer ref = referenceRoute(logits.seen, kTokens, 64, rules);
        for (CpuKernel kernel : kernelsHere()) {
            const auto backend = makeCpuBackend(2, kernel);
            std::vector<std::uint8_t> valid(kTokens);
            ChunkOutput out;
            out.valid = valid.data();
            LossTotals totals;
            backend->route(logits.view(), rules, out, totals);
            QCOMPARE(valid, ref.valid);
            QCOMPARE(totals.validRows, ref.validRows);
            for (int e = 0; e < 64; ++e)
                QVERIFY(std::abs(totals.probSum[e] - ref.probSum[e]) < 1e-6 * kTokens);
            QCOMPARE(totals.counts, std::vector<std::int64_t>(64, 0));
        }
    }

    void largeExpertCounts()
    {
        // E up to the format's 4096, k up to the vector kernel's 32 and past it.
        for (auto [E, k] : {std::pair{4096, 8}, std::pair{1000, 32}, std::pair{300, 40}}) {
            const TestLogits logits = makeLogits(97, E, LogitsType::Float16, unsigned(E + k));
            RoutingRules rules;
            rules.topK = k;
            const ReferenceLayer ref = referenceRoute(logits.seen, 97, E, rules);
            for (CpuKernel kernel : kernelsHere()) {
                const auto backend = makeCpuBackend(2, kernel);
                const QString diff = compareWithReference(ref, runBackend(*backend, logits, rules), -1.0, 2e-6);
                QVERIFY2(diff.isEmpty(), qPrintable(QString("E=%1 k=%2 %3: ").arg(E).arg(k).arg(cpuKernelName(kernel)) + diff));
            }
        }
    }

    void capacityPolicies_data()
    {
        QTest::addColumn<int>("E");
        QTest::addColumn<int>("k");
        QTest::addColumn<bool>("scorePriority");
        QTest::addColumn<bool>("perSequence");
        for (int E : {1, 4, 16, 64})
            for (int k : {1, 2, 4})
                for (bool sp : {false, true})
                    for (bool seq : {false, true}) {
                        if (k > E)
                            continue;
                        const QByteArray name = QByteArray("E") + QByteArray::number(E) + "_k" + QByteArray::number(k) +
                                                (sp ? "_score-priority" : "_token-order") + (seq ? "_sequence" : "_dump");
                        QTest::newRow(name.constData()) << E << k << sp << seq;
                    }
    }

    // Capacity with either policy, per dump or per sequence, and dropless: the choices
    // of every kernel fed to the capacity simulation of core/stats.
    void capacityPolicies()
    {
        QFETCH(int, E);
        QFETCH(int, k);
        QFETCH(bool, scorePriority);
        QFETCH(bool, perSequence);
        const TestLogits logits = makeLogits(kTokens, E, LogitsType::Float16, unsigned(E + 3 * k));
        RoutingRules rules;
        rules.topK = k;
        const ReferenceLayer ref = referenceRoute(logits.seen, kTokens, E, rules);
        for (CpuKernel kernel : kernelsHere()) {
            const auto backend = makeCpuBackend(2, kernel);
            const LayerChoices c = choicesOf(runBackend(*backend, logits, rules, 300), E, k);
            for (double cf : {0.5, 1.0, 1.25, 2.0}) {
                CapacityRequest request;
                request.capacityFactor = cf;
                request.policy = scorePriority ? DropPolicy::ScorePriority : DropPolicy::TokenOrder;
                request.group = perSequence ? CapacityGroup::Sequence : CapacityGroup::Dump;
                const DropReport got = simulateCapacity(c, kOffsets, request);
                const ReferenceDrops want = referenceDrops(ref, kOffsets, cf, scorePriority, perSequence);
                QCOMPARE(got.dropped, want.dropped);
                QCOMPARE(got.fullyDropped, want.fullyDropped);
            }
            CapacityRequest dropless;
            dropless.policy = DropPolicy::None;
            const DropReport none = simulateCapacity(c, kOffsets, dropless);
            QCOMPARE(none.dropped, std::int64_t(0));
            const double mean = double(k) * double(ref.validRows) / E;
            QCOMPARE(none.stragglerFactor, double(*std::max_element(ref.counts.begin(), ref.counts.end())) / mean);
        }
    }

    void sweepMatchesSimulation_data()
    {
        QTest::addColumn<bool>("scorePriority");
        QTest::addColumn<bool>("perSequence");
        QTest::newRow("token-order dump") << false << false;
        QTest::newRow("token-order sequence") << false << true;
        QTest::newRow("score-priority dump") << true << false;
        QTest::newRow("score-priority sequence") << true << true;
    }

    void sweepMatchesSimulation()
    {
        QFETCH(bool, scorePriority);
        QFETCH(bool, perSequence);
        const int E = 16, k = 3;
        const TestLogits logits = makeLogits(kTokens, E, LogitsType::Float32, 77);
        RoutingRules rules;
        rules.topK = k;
        const ReferenceLayer ref = referenceRoute(logits.seen, kTokens, E, rules);
        const auto backend = makeCpuBackend(2);
        const LayerChoices c = choicesOf(runBackend(*backend, logits, rules), E, k);
        const std::vector<double> factors = capacityFactorRange(0.25, 3.0, 0.05);
        QCOMPARE(factors.size(), std::size_t(56));
        const CapacityRanks ranks = rankAssignments(c, kOffsets,
                                                    scorePriority ? DropPolicy::ScorePriority : DropPolicy::TokenOrder,
                                                    perSequence ? CapacityGroup::Sequence : CapacityGroup::Dump);
        const CapacitySweepResult sweep = backend->sweepCapacity(ranks, factors);
        for (std::size_t j = 0; j < factors.size(); ++j) {
            const ReferenceDrops want = referenceDrops(ref, kOffsets, factors[j], scorePriority, perSequence);
            QCOMPARE(sweep.dropped[j], want.dropped);
            QCOMPARE(sweep.fullyDropped[j], want.fullyDropped);
            QCOMPARE(sweep.droppedFraction[j], double(want.dropped) / (double(k) * double(ref.validRows)));
        }
    }

    void badSweepRange()
    {
        QVERIFY(throws<std::invalid_argument>([&] { capacityFactorRange(0, 1, 0.1); }));
        QVERIFY(throws<std::invalid_argument>([&] { capacityFactorRange(2, 1, 0.1); }));
        QVERIFY(throws<std::invalid_argument>([&] { capacityFactorRange(1, 2, 0); }));
        QCOMPARE(capacityFactorRange(1, 1, 0.5), std::vector<double>{1.0});
        QCOMPARE(capacityFactorRange(1, 2, 0.5).size(), std::size_t(3));
    }

    void expertChoice_data()
    {
        QTest::addColumn<int>("E");
        QTest::addColumn<int>("k");
        QTest::addColumn<bool>("perSequence");
        QTest::addColumn<QString>("variant");
        for (int E : {1, 3, 16, 64})
            for (int k : {1, 2})
                for (bool seq : {false, true})
                    for (const char *v : {"softmax", "sigmoid"}) {
                        if (k > E)
                            continue;
                        const QByteArray name = QByteArray("E") + QByteArray::number(E) + "_k" + QByteArray::number(k) +
                                                (seq ? "_sequence_" : "_dump_") + v;
                        QTest::newRow(name.constData()) << E << k << seq << QString(v);
                    }
    }

    void expertChoice()
    {
        QFETCH(int, E);
        QFETCH(int, k);
        QFETCH(bool, perSequence);
        QFETCH(QString, variant);
        const TestLogits logits = makeLogits(kTokens, E, LogitsType::Float16, unsigned(E * 3 + k));
        const RoutingRules rules = makeRules(variant.toStdString(), E, k, 1);
        const double cf = 1.0;
        const ReferenceExpertChoice want = referenceExpertChoice(logits.seen, kTokens, E, rules, kOffsets, cf, perSequence);

        // The groups and their valid tokens, as the routing pass would give them.
        std::vector<std::int64_t> bounds = perSequence ? kOffsets : std::vector<std::int64_t>{0, kTokens};
        std::vector<std::int64_t> validPerGroup;
        for (std::size_t g = 0; g + 1 < bounds.size(); ++g) {
            std::int64_t n = 0;
            for (std::int64_t t = bounds[g]; t < bounds[g + 1]; ++t)
                n += std::all_of(logits.seen.begin() + t * E, logits.seen.begin() + (t + 1) * E,
                                 [](double x) { return std::isfinite(x); });
            validPerGroup.push_back(n);
        }
        ExpertChoiceRouter router(E, rules, cf, bounds, validPerGroup, 2);
        for (std::size_t begin = 0; begin < std::size_t(kTokens); begin += 400) // chunks across groups
            router.add(logits.rows(begin, std::min<std::size_t>(400, kTokens - begin)), std::int64_t(begin));
        const ExpertChoiceResult got = router.finish(kOffsets);
        QCOMPARE(got.capacity, want.capacity);
        QCOMPARE(got.taken, want.taken);
        QCOMPARE(got.expertsOfToken, want.expertsOfToken);
        QCOMPARE(got.unrouted, want.unrouted);
        std::int64_t binned = 0;
        for (std::int64_t b : got.unroutedByPosition)
            binned += b;
        QCOMPARE(binned, got.unrouted);
    }

    void balance_data()
    {
        QTest::addColumn<int>("E");
        QTest::addColumn<int>("k");
        QTest::addColumn<int>("batch");
        QTest::addColumn<QString>("variant");
        QTest::newRow("E8 k2 B100 sigmoid") << 8 << 2 << 100 << "sigmoid";
        QTest::newRow("E16 k1 B64 softmax") << 16 << 1 << 64 << "softmax";
        QTest::newRow("E64 k6 B500 groups") << 64 << 6 << 500 << "groups";
        QTest::newRow("E3 k2 B1237 softmax") << 3 << 2 << kTokens << "softmax";
        QTest::newRow("E5 k1 B1 softmax") << 5 << 1 << 1 << "softmax";
    }

    void balance()
    {
        QFETCH(int, E);
        QFETCH(int, k);
        QFETCH(int, batch);
        QFETCH(QString, variant);
        const TestLogits logits = makeLogits(kTokens, E, LogitsType::Float16, unsigned(E + k + batch));
        RoutingRules rules = makeRules(variant.toStdString(), E, k, 9);
        rules.expertBias.clear(); // the simulation brings its own
        const double rate = 1.0 / 256;
        const ReferenceBalance want = referenceBalance(logits.seen, kTokens, E, rules, rate, batch);
        for (CpuKernel kernel : kernelsHere()) {
            const auto backend = makeCpuBackend(2, kernel);
            BalanceSimulator sim(*backend, rules, E, rate, batch);
            for (std::size_t begin = 0; begin < std::size_t(kTokens); begin += 333)
                sim.add(logits.rows(begin, std::min<std::size_t>(333, kTokens - begin)));
            const BalanceResult got = sim.finish();
            QCOMPARE(got.maxVioWith.size(), want.maxVioWith.size());
            for (std::size_t b = 0; b < want.maxVioWith.size(); ++b) {
                QVERIFY(std::isnan(want.maxVioWith[b]) ? std::isnan(got.maxVioWith[b])
                                                       : got.maxVioWith[b] == want.maxVioWith[b]);
                QVERIFY(std::isnan(want.maxVioWithout[b]) ? std::isnan(got.maxVioWithout[b])
                                                          : got.maxVioWithout[b] == want.maxVioWithout[b]);
            }
            QCOMPARE(got.finalBias, want.finalBias);
        }
    }

    void balanceLowersMaxVio()
    {
        // On a router with favoured experts the bias must help: later batches balance better.
        const int E = 16, k = 2;
        const TestLogits logits = makeLogits(20000, E, LogitsType::Float32, 3);
        RoutingRules rules;
        rules.topK = k;
        rules.scoring = Scoring::Sigmoid;
        const auto backend = makeCpuBackend(2);
        BalanceSimulator sim(*backend, rules, E, 0.02, 256);
        sim.add(logits.view());
        const BalanceResult r = sim.finish();
        double with = 0, without = 0;
        for (std::size_t b = r.maxVioWith.size() / 2; b < r.maxVioWith.size(); ++b) {
            with += r.maxVioWith[b];
            without += r.maxVioWithout[b];
        }
        QVERIFY2(with < 0.5 * without, qPrintable(QString("with %1, without %2").arg(with).arg(without)));
    }

    void expertPairsMatchReference_data()
    {
        QTest::addColumn<int>("E");
        for (int E : {1, 2, 7, 64, 90, 91, 256})
            QTest::newRow(("E" + QByteArray::number(E)).constData()) << E;
    }

    // The threaded pair counts against stats/ExpertPairs.h: three threads on parts of
    // the tokens (20,011 make three parts), k from 1 to 8 (past E too), invalid tokens,
    // repeated ids, another k and validity (and a few more positions) at the second layer.
    void expertPairsMatchReference()
    {
        QFETCH(int, E);
        const auto backend = makeCpuBackend(3);
        for (int k = 1; k <= 8; ++k)
            for (std::int64_t T : {0, 1, 1003, 20011}) {
                const unsigned seed = unsigned(E * 1000 + k * 10 + T % 7);
                const LayerChoices from = makePairChoices(T, E, k, seed);
                const LayerChoices to = makePairChoices(T + k % 3, E, k % 8 + 1, seed + 1);
                const QString where = QString("k=%1 T=%2").arg(k).arg(T);
                QVERIFY2(backend->coActivation(from) == coActivation(from), qPrintable(where + ": co-activation"));
                QVERIFY2(backend->layerTransitions(from, to) == layerTransitions(from, to),
                         qPrintable(where + ": transitions"));
            }
    }

    void expertPairsLargeK()
    {
        // k = 40 of E = 300: a repeated id is found by the last token that saw it, not by scanning.
        const auto backend = makeCpuBackend(2);
        const LayerChoices from = makePairChoices(9001, 300, 40, 1), to = makePairChoices(9001, 300, 40, 2);
        QCOMPARE(backend->coActivation(from), coActivation(from));
        QCOMPARE(backend->layerTransitions(from, to), layerTransitions(from, to));
    }

    void rejectsBadArguments()
    {
        const auto backend = makeCpuBackend(1);
        const TestLogits logits = makeLogits(10, 4, LogitsType::Float32, 1);
        RoutingRules rules;
        rules.topK = 5;
        std::vector<std::int32_t> ids(50);
        std::vector<std::uint8_t> valid(10);
        LossTotals totals;
        QVERIFY(throws<std::invalid_argument>([&] { backend->route(logits.view(), rules, {ids.data(), nullptr, nullptr, valid.data()}, totals); }));
        RoutingRules ok;
        QVERIFY(throws<std::invalid_argument>([&] { BalanceSimulator sim(*backend, ok, 4, 0.0, 10); }));
        QVERIFY(throws<std::invalid_argument>([&] { BalanceSimulator sim(*backend, ok, 4, 0.1, 0); }));
    }
};

QTEST_GUILESS_MAIN(CpuBackendTest)
#include "CpuBackendTest.moc"
