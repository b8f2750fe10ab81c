// The OpenCL backend against the in-test reference, on whatever OpenCL device the
// machine has (PoCL in CI). No device at all is a failure, not a skip: this binary
// exists to prove the kernels. The kernels are built once (initTestCase) and the one
// backend serves every test, because building takes seconds on PoCL.
#include "RoutingCases.h"
#include "RoutingReference.h"

#include "routing/BackendFactory.h"
#include "routing/BalanceSimulation.h"
#include "routing/CapacitySweep.h"
#include "routing/OpenClBackend.h"
#include "routing/OpenClRuntime.h"
#include "stats/CapacityDrops.h"
#include "stats/ExpertPairs.h"
#include "support/Throws.h"

#include <QElapsedTimer>
#include <QTest>

#include <cmath>

using namespace moescope;
using namespace moescope::test;

namespace {
constexpr int kTokens = 1237;
const std::vector<std::int64_t> kOffsets{0, 100, 101, 640, 1000, kTokens};

// Local memory the pair tests give the histograms, as a small GPU would (PoCL offers
// 2 MiB): co-activation keeps E (E + 1) / 2 uint counters there up to E = 127,
// transitions E * E up to E = 90; larger E count in global memory.
constexpr std::size_t kPairLocalBytes = 32768;

// Choices by p + b are compared in float on the device: near ties may flip.
double keyToleranceFor(const RoutingRules &rules)
{
    return rules.hasBias() || rules.groupLimited() ? 1e-5 : -1.0;
}
} // namespace

class OpenClBackendTest : public QObject {
    Q_OBJECT

    std::unique_ptr<RoutingBackend> m_gpu;
    std::unique_ptr<RoutingBackend> m_pairs; // kPairLocalBytes of local memory; says which path ran
    std::string m_pairPath;

    // Co-activation of `from` and the transitions from `from` to `to` on `backend`
    // against stats/ExpertPairs.h; the paths they took in `paths` ("local global").
    static QString comparePairs(RoutingBackend &backend, const LayerChoices &from, const LayerChoices &to,
                                const std::string &path, QString &paths)
    {
        const bool coActivationOk = backend.coActivation(from) == coActivation(from);
        paths = QString::fromStdString(path);
        const bool transitionsOk = backend.layerTransitions(from, to) == layerTransitions(from, to);
        paths += " " + QString::fromStdString(path);
        return QString(coActivationOk ? "" : "co-activation differs; ") + (transitionsOk ? "" : "transitions differ");
    }

private slots:
    void initTestCase()
    {
        std::string problem;
        const auto devices = openClDevices(&problem);
        QVERIFY2(!devices.empty(), qPrintable("no OpenCL device: " + QString::fromStdString(problem) +
                                              " (install pocl-opencl-icd to run these tests on the CPU)"));
        QElapsedTimer timer;
        timer.start();
        m_gpu = makeOpenClBackend(false, false);
        qInfo("%s, kernels built in %lld ms", m_gpu->name().c_str(), static_cast<long long>(timer.elapsed()));
        OpenClTestHooks hooks;
        hooks.pairLocalBytes = kPairLocalBytes;
        hooks.pairPath = &m_pairPath;
        m_pairs = makeOpenClBackend(false, false, hooks);
    }

    void matchesReference_data()
    {
        addRoutingCaseRows([](int, int k, LogitsType type, const std::string &v) {
            // float64 is narrowed on the host: one row each is enough.
            return type != LogitsType::Float64 || (k == 2 && v == "softmax");
        });
    }

    void matchesReference()
    {
        const RoutingCase c = fetchRoutingCase(kTokens);
        const BackendRun run = runBackend(*m_gpu, c.logits, c.rules, 509);
        const QString diff = compareWithReference(c.ref, run, keyToleranceFor(c.rules), 2e-5);
        QVERIFY2(diff.isEmpty(), qPrintable(diff));
    }

    void manyBatches()
    {
        // More rows than one device batch (16384 for E = 64), so both buffer sets and
        // queues take turns, in one call and across calls.
        const int T = 40009, E = 64, k = 8;
        const TestLogits logits = makeLogits(T, E, LogitsType::Float16, 11);
        RoutingRules rules;
        rules.topK = k;
        const ReferenceLayer ref = referenceRoute(logits.seen, T, E, rules);
        for (std::size_t chunk : {std::size_t(0), std::size_t(17000)}) {
            const QString diff = compareWithReference(ref, runBackend(*m_gpu, logits, rules, chunk), -1.0, 2e-5);
            QVERIFY2(diff.isEmpty(), qPrintable(diff));
        }
    }

    void delegatesWhatKernelsDoNotCover()
    {
        // k > 32 and E = 4096 with k = 8: the first goes to the CPU inside, the second is a kernel's.
        for (auto [E, k] : {std::pair{64, 40}, std::pair{4096, 8}}) {
            const TestLogits logits = makeLogits(131, E, LogitsType::Float16, unsigned(E + k));
            RoutingRules rules;
            rules.topK = k;
            const ReferenceLayer ref = referenceRoute(logits.seen, 131, E, rules);
            const QString diff = compareWithReference(ref, runBackend(*m_gpu, logits, rules), -1.0, 2e-5);
            QVERIFY2(diff.isEmpty(), qPrintable(QString("E=%1 k=%2: ").arg(E).arg(k) + diff));
        }
    }

    void kernelLimitsReachTheKernels()
    {
        // The kernels size their arrays by the host's limits (k <= 32 routed, 64 expert
        // groups, k <= 32 for co-activation) and refuse work beyond them (rows left
        // invalid, pairs handed back to the CPU). Exactly at a limit the device does the
        // work and agrees with the reference, so the kernels were built with the host's
        // values; one past it, the CPU does.
        std::string routePath, pairPath;
        OpenClTestHooks hooks;
        hooks.routePath = &routePath;
        hooks.pairPath = &pairPath;
        hooks.pairLocalBytes = kPairLocalBytes;
        const auto backend = makeOpenClBackend(false, false, hooks);
        struct Limit {
            const char *what;
            int E, k, groups, groupsKept;
            const char *path;
        };
        for (const Limit &l : {Limit{"k = 32", 64, 32, 0, 0, "device"}, Limit{"k = 33", 64, 33, 0, 0, "cpu"},
                               Limit{"64 groups", 128, 8, 64, 8, "device"}, Limit{"128 groups", 128, 8, 128, 8, "cpu"}}) {
            const TestLogits logits = makeLogits(517, l.E, LogitsType::Float32, unsigned(l.E + l.k + l.groups));
            RoutingRules rules;
            rules.topK = l.k;
            rules.numGroups = l.groups;
            rules.topKGroups = l.groupsKept;
            const ReferenceLayer ref = referenceRoute(logits.seen, 517, l.E, rules);
            routePath.clear();
            const QString diff = compareWithReference(ref, runBackend(*backend, logits, rules), keyToleranceFor(rules), 2e-5);
            QVERIFY2(diff.isEmpty(), qPrintable(QString(l.what) + ": " + diff));
            QCOMPARE(QString::fromStdString(routePath), QString(l.path));
        }
        for (auto [k, path] : {std::pair{32, "local"}, std::pair{33, "cpu"}}) {
            const LayerChoices wide = makePairChoices(2003, 64, k, unsigned(k));
            QCOMPARE(backend->coActivation(wide), coActivation(wide));
            QCOMPARE(QString::fromStdString(pairPath), QString(path));
        }
    }

    void kernelsTakeTheirLimitsFromTheHost()
    {
        // Built without the host's -D options, the kernel source refuses to build: the
        // limits have no second copy in it to drift from the host's.
        const auto devices = opencl::listDevices();
        QVERIFY(!devices.empty());
        try {
            opencl::runtimeFor(devices.front(), "-D UNRELATED=1");
            QFAIL("the kernels built without the host's limits");
        } catch (const std::runtime_error &e) {
            QVERIFY2(QString(e.what()).contains("built without the host's limits"), e.what());
        }
    }

    void scorePriorityDrops()
    {
        // Gate probabilities from the device feed the score-priority simulation.
        const int E = 16, k = 2;
        const TestLogits logits = makeLogits(kTokens, E, LogitsType::Float32, 21);
        RoutingRules rules;
        rules.topK = k;
        const ReferenceLayer ref = referenceRoute(logits.seen, kTokens, E, rules);
        const BackendRun run = runBackend(*m_gpu, logits, rules);
        const LayerChoices c = choicesOf(run, E, k);
        for (bool seq : {false, true}) {
            CapacityRequest request;
            request.policy = DropPolicy::ScorePriority;
            request.group = seq ? CapacityGroup::Sequence : CapacityGroup::Dump;
            const DropReport got = simulateCapacity(c, kOffsets, request);
            const ReferenceDrops want = referenceDrops(ref, kOffsets, 1.25, true, seq);
            QCOMPARE(got.dropped, want.dropped); // the same under any order
            // Which tokens lose out may differ where float gates tie: allow a little.
            QVERIFY2(std::abs(got.fullyDropped - want.fullyDropped) <= 2,
                     qPrintable(QString("%1 vs %2").arg(got.fullyDropped).arg(want.fullyDropped)));
        }
    }

    void sweepMatchesCpu_data()
    {
        QTest::addColumn<bool>("scorePriority");
        QTest::addColumn<bool>("perSequence");
        QTest::addColumn<int>("k");
        QTest::newRow("token-order dump k1") << false << false << 1;
        QTest::newRow("token-order sequence k4") << false << true << 4;
        QTest::newRow("score-priority dump k2") << true << false << 2;
        QTest::newRow("score-priority sequence k8") << true << true << 8;
    }

    void sweepMatchesCpu()
    {
        QFETCH(bool, scorePriority);
        QFETCH(bool, perSequence);
        QFETCH(int, k);
        const int E = 32;
        const TestLogits logits = makeLogits(kTokens, E, LogitsType::Float16, unsigned(k));
        RoutingRules rules;
        rules.topK = k;
        const ReferenceLayer ref = referenceRoute(logits.seen, kTokens, E, rules);
        const auto cpu = makeCpuBackend(2);
        const BackendRun run = runBackend(*cpu, logits, rules);
        const LayerChoices c = choicesOf(run, E, k);
        // More factors than one device launch takes (1024).
        const std::vector<double> factors = capacityFactorRange(0.01, 3.0, 0.002);
        QVERIFY(factors.size() > 1024);
        const CapacityRanks ranks = rankAssignments(c, kOffsets,
                                                    scorePriority ? DropPolicy::ScorePriority : DropPolicy::TokenOrder,
                                                    perSequence ? CapacityGroup::Sequence : CapacityGroup::Dump);
        const CapacitySweepResult onGpu = m_gpu->sweepCapacity(ranks, factors);
        const CapacitySweepResult onCpu = sweepCapacityOnCpu(ranks, factors);
        QCOMPARE(onGpu.dropped, onCpu.dropped);
        QCOMPARE(onGpu.fullyDropped, onCpu.fullyDropped);
        QCOMPARE(onGpu.droppedFraction, onCpu.droppedFraction);
        for (std::size_t j : {std::size_t(0), std::size_t(60), factors.size() / 2, factors.size() - 1}) {
            const ReferenceDrops want = referenceDrops(ref, kOffsets, factors[j], scorePriority, perSequence);
            QCOMPARE(onGpu.dropped[j], want.dropped);
            QCOMPARE(onGpu.fullyDropped[j], want.fullyDropped);
        }
    }

    void balance()
    {
        const int E = 8, k = 2, batch = 100;
        const TestLogits logits = makeLogits(kTokens, E, LogitsType::Float16, 5);
        RoutingRules rules;
        rules.topK = k;
        rules.scoring = Scoring::Sigmoid;
        const double rate = 1.0 / 256;
        const ReferenceBalance want = referenceBalance(logits.seen, kTokens, E, rules, rate, batch);
        BalanceSimulator sim(*m_gpu, rules, E, rate, batch);
        sim.add(logits.view());
        const BalanceResult got = sim.finish();
        QCOMPARE(got.maxVioWith.size(), want.maxVioWith.size());
        // Float keys p + b: a near tie may move one token, and the bias a step with it.
        for (std::size_t b = 0; b < want.maxVioWith.size(); ++b) {
            QVERIFY(std::abs(got.maxVioWithout[b] - want.maxVioWithout[b]) < 1e-12);
            QVERIFY2(std::abs(got.maxVioWith[b] - want.maxVioWith[b]) < 0.1,
                     qPrintable(QString("batch %1: %2 vs %3").arg(b).arg(got.maxVioWith[b]).arg(want.maxVioWith[b])));
        }
        for (int e = 0; e < E; ++e)
            QVERIFY(std::abs(got.finalBias[e] - want.finalBias[e]) <= 4 * rate);
    }

    void expertPairsMatchReference_data()
    {
        QTest::addColumn<int>("E");
        QTest::addColumn<QString>("paths"); // co-activation's and the transitions'
        QTest::newRow("E1") << 1 << "local local";
        QTest::newRow("E2") << 2 << "local local";
        QTest::newRow("E7") << 7 << "local local";
        QTest::newRow("E64") << 64 << "local local";
        QTest::newRow("E90") << 90 << "local local";
        QTest::newRow("E91") << 91 << "local global";
        QTest::newRow("E127") << 127 << "local global";
        QTest::newRow("E128") << 128 << "global global";
        QTest::newRow("E256") << 256 << "global global";
    }

    // Both pair kernels, on both histogram paths, against the reference: k from 1 to 8
    // (past E too, where ids must repeat), T of none, one and no multiple of the
    // work-group size, invalid tokens, repeated ids, another k and validity (and a few
    // more positions) at the second layer.
    void expertPairsMatchReference()
    {
        QFETCH(int, E);
        QFETCH(QString, paths);
        for (int k = 1; k <= 8; ++k)
            for (std::int64_t T : {0, 1, 1003, 20011}) {
                const unsigned seed = unsigned(E * 1000 + k * 10 + T % 7);
                const LayerChoices from = makePairChoices(T, E, k, seed);
                const LayerChoices to = makePairChoices(T + k % 3, E, k % 8 + 1, seed + 1);
                QString ran;
                const QString diff = comparePairs(*m_pairs, from, to, m_pairPath, ran);
                const QString where = QString("k=%1 T=%2: ").arg(k).arg(T);
                QVERIFY2(diff.isEmpty(), qPrintable(where + diff));
                QVERIFY2(ran == (T ? paths : "cpu cpu"), qPrintable(where + "ran " + ran));
            }
    }

    void expertPairsInBatchesAndLargeK()
    {
        // Launches of 4,099 tokens (no multiple of the work-group size): 20,011 take five,
        // adding to one histogram, on either path.
        std::string path;
        OpenClTestHooks hooks;
        hooks.pairLocalBytes = kPairLocalBytes;
        hooks.pairBatchTokens = 4099;
        hooks.pairPath = &path;
        const auto batched = makeOpenClBackend(false, false, hooks);
        for (auto [E, paths] : {std::pair{7, "local local"}, std::pair{91, "local global"}, std::pair{256, "global global"}}) {
            const LayerChoices from = makePairChoices(20011, E, 8, unsigned(E));
            const LayerChoices to = makePairChoices(20011, E, 4, unsigned(E) + 1);
            QString ran;
            const QString diff = comparePairs(*batched, from, to, path, ran);
            QVERIFY2(diff.isEmpty(), qPrintable(QString("E=%1 in batches: ").arg(E) + diff));
            QCOMPARE(ran, QString(paths));
        }
        // k > 32: co-activation goes to the CPU; transitions read one id a token and stay.
        const LayerChoices wide = makePairChoices(3001, 64, 40, 3), narrow = makePairChoices(3001, 64, 2, 4);
        QString ran;
        const QString diff = comparePairs(*m_pairs, wide, narrow, m_pairPath, ran);
        QVERIFY2(diff.isEmpty(), qPrintable("k=40: " + diff));
        QCOMPARE(ran, QString("cpu local"));
        // The device's own local memory (2 MiB on PoCL) gives the same matrices.
        const LayerChoices from = makePairChoices(20011, 256, 8, 5), to = makePairChoices(20011, 256, 8, 6);
        QCOMPARE(m_gpu->coActivation(from), coActivation(from));
        QCOMPARE(m_gpu->layerTransitions(from, to), layerTransitions(from, to));
    }

    void deviceChoice()
    {
        std::string notice;
        // gpu: the first GPU-type device, else any device, named on stderr.
        const auto gpu = makeBackend(Device::Gpu, notice);
        QVERIFY(gpu->name().rfind("opencl", 0) == 0);
        QVERIFY2(QString::fromStdString(notice).contains("opencl ("), notice.c_str());
        // auto: the GPU only when a GPU-type device exists; PoCL is a CPU device.
        bool anyGpu = false;
        for (const auto &d : openClDevices())
            anyGpu |= d.gpu;
        const auto automatic = makeBackend(Device::Auto, notice);
        QCOMPARE(automatic->name().rfind("opencl", 0) == 0, anyGpu);
    }

    void autoFallsBackWhenKernelsDoNotBuild()
    {
        // Pretend the PoCL device is a GPU, so that `auto` picks OpenCL.
        OpenClTestHooks hooks;
        hooks.anyDeviceIsGpu = true;
        std::string notice;
        const auto working = makeBackend(Device::Auto, notice, hooks);
        QVERIFY2(working->name().rfind("opencl", 0) == 0, working->name().c_str());
        // Now the kernel build fails: `auto` warns and routes on the CPU ...
        hooks.extraBuildOptions = "-cl-no-such-option";
        const auto fallback = makeBackend(Device::Auto, notice, hooks);
        QVERIFY2(fallback->name().rfind("cpu", 0) == 0, fallback->name().c_str());
        QVERIFY2(QString::fromStdString(notice).startsWith("warning:") && QString::fromStdString(notice).contains("CPU"),
                 notice.c_str());
        const TestLogits logits = makeLogits(300, 8, LogitsType::Float16, 2);
        RoutingRules rules;
        rules.topK = 2;
        const QString diff = compareWithReference(referenceRoute(logits.seen, 300, 8, rules),
                                                  runBackend(*fallback, logits, rules), -1.0, 2e-6);
        QVERIFY2(diff.isEmpty(), qPrintable(diff));
        // ... while an explicit `gpu` reports the failure as an error.
        QVERIFY(throws<std::runtime_error>([&] { makeBackend(Device::Gpu, notice, hooks); }));
    }
};

QTEST_GUILESS_MAIN(OpenClBackendTest)
#include "OpenClBackendTest.moc"
