// `moescope route` end to end: real HDF5 dumps (float16/32/64) through the reader, the
// analysis pass and both backends, with the JSON checked against the in-test
// reference, including the what-ifs (capacity sweep, expert choice, balancing).
#include "core/routing/RoutingReference.h"

#include "io/Float16.h"
#include "support/DumpFixture.h"
#include "support/TempDump.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QTemporaryDir>
#include <QTest>

#include <cmath>
#include <set>

using namespace moescope;
using namespace moescope::test;

namespace {

constexpr int kTokens = 3001, kExperts = 16, kTopK = 2;

struct Run {
    int exitCode = -1;
    QByteArray out, err;
    QJsonObject json() const { return QJsonDocument::fromJson(out).object(); }
};

Run runMoescope(const QStringList &args, const QProcessEnvironment &env = QProcessEnvironment::systemEnvironment())
{
    QProcess p;
    p.setProcessEnvironment(env);
    p.start(qEnvironmentVariable("MOESCOPE_BIN"), args);
    p.waitForFinished(120000);
    return {p.exitStatus() == QProcess::NormalExit ? p.exitCode() : -1, p.readAllStandardOutput(),
            p.readAllStandardError()};
}

DumpFixture fixture()
{
    DumpFixture f = randomFixture(kTokens, kExperts, kTopK, 2, 17);
    f.sequenceOffsets = {0, 700, 701, 2000, kTokens};
    f.layers[0].logits[5 * kExperts + 3] = NAN; // an invalid token
    // Layer 1 also holds recorded choices: route reports the agreement with them.
    for (int t = 0; t < kTokens; ++t)
        for (int i = 0; i < kTopK; ++i)
            f.layers[1].topkIds.push_back((t + i * 5) % kExperts);
    return f;
}

// The logits of a layer as the reader hands them over for a storage width.
std::vector<double> seenLogits(const FixtureLayer &layer, int floatBits)
{
    std::vector<double> v(layer.logits.size());
    for (std::size_t i = 0; i < v.size(); ++i)
        v[i] = floatBits == 16 ? double(halfToFloat(floatToHalf(layer.logits[i]))) : double(layer.logits[i]);
    return v;
}

std::vector<std::int64_t> integers(const QJsonArray &a)
{
    std::vector<std::int64_t> v;
    for (const auto &x : a)
        v.push_back(x.toInteger());
    return v;
}

bool close(double a, double b, double rtol) { return std::abs(a - b) <= 1e-12 + rtol * std::max(std::abs(a), std::abs(b)); }

} // namespace

class RouteCommandTest : public QObject {
    Q_OBJECT

private slots:
    void initTestCase() { QVERIFY2(!qEnvironmentVariable("MOESCOPE_BIN").isEmpty(), "MOESCOPE_BIN is not set"); }

    void reportMatchesReference_data()
    {
        QTest::addColumn<int>("floatBits");
        QTest::addColumn<QString>("device");
        QTest::addColumn<QString>("drop");
        QTest::addColumn<QString>("group");
        QTest::newRow("f16 cpu token-order dump") << 16 << "cpu" << "token-order" << "dump";
        QTest::newRow("f32 cpu score-priority sequence") << 32 << "cpu" << "score-priority" << "sequence";
        QTest::newRow("f64 cpu none") << 64 << "cpu" << "none" << "dump";
        QTest::newRow("f16 gpu token-order sequence") << 16 << "gpu" << "token-order" << "sequence";
        QTest::newRow("f32 gpu none") << 32 << "gpu" << "none" << "dump";
    }

    void reportMatchesReference()
    {
        QFETCH(int, floatBits);
        QFETCH(QString, device);
        QFETCH(QString, drop);
        QFETCH(QString, group);
        const DumpFixture f = fixture();
        StorageOptions storage;
        storage.floatBits = floatBits;
        storage.chunked = true;
        const TempDump file(f, storage);
        const Run r = runMoescope({"route", file.qpath(), "--json", "--device", device, "--drop", drop,
                                "--capacity-group", group, "--capacity-factor", "1.1"});
        QVERIFY2(r.exitCode == 0, r.err.constData());
        if (device == "gpu")
            QVERIFY2(r.err.contains("routing on opencl"), r.err.constData()); // the device is named
        const QJsonArray layers = r.json()["layers"].toArray();
        QCOMPARE(layers.size(), 2);
        RoutingRules rules;
        rules.topK = kTopK;
        for (int l = 0; l < 2; ++l) {
            const QJsonObject got = layers[l].toObject();
            const ReferenceLayer ref = referenceRoute(seenLogits(f.layers[l], floatBits), kTokens, kExperts, rules);
            QCOMPARE(integers(got["counts"].toArray()), ref.counts);
            QCOMPARE(got["invalid_tokens"].toInteger(), kTokens - ref.validRows);
            double lb = 0;
            for (int e = 0; e < kExperts; ++e)
                lb += double(ref.counts[e]) / double(ref.validRows) * ref.probSum[e] / double(ref.validRows);
            lb *= kExperts;
            QVERIFY2(close(got["lb_loss"].toDouble(), lb, 1e-5), qPrintable(QString::number(got["lb_loss"].toDouble())));
            QVERIFY(close(got["z_loss"].toDouble(), ref.zSquaredSum / double(ref.validRows), 1e-5));
            if (drop == "none") {
                QCOMPARE(got["dropped_fraction"].toDouble(), 0.0);
            } else {
                const ReferenceDrops d = referenceDrops(ref, f.sequenceOffsets, 1.1, drop == "score-priority",
                                                        group == "sequence");
                QCOMPARE(got["dropped_fraction"].toDouble(), double(d.dropped) / double(kTopK * ref.validRows));
                QCOMPARE(got["fully_dropped_fraction"].toDouble(), double(d.fullyDropped) / double(ref.validRows));
            }
            if (l == 1) {
                std::int64_t same = 0;
                for (int t = 0; t < kTokens; ++t) {
                    const std::set<int> a{ref.ids[t * kTopK], ref.ids[t * kTopK + 1]};
                    const std::set<int> b{int(f.layers[1].topkIds[t * kTopK]), int(f.layers[1].topkIds[t * kTopK + 1])};
                    same += ref.valid[t] && a == b;
                }
                QCOMPARE(got["agreement"].toDouble(), double(same) / double(ref.validRows));
            } else {
                QVERIFY(!got.contains("agreement"));
            }
        }
    }

    void whatIfs_data()
    {
        QTest::addColumn<QString>("device");
        QTest::newRow("cpu") << "cpu";
        QTest::newRow("gpu") << "gpu";
    }

    void whatIfs()
    {
        QFETCH(QString, device);
        const DumpFixture f = fixture();
        StorageOptions storage;
        storage.floatBits = 16;
        const TempDump file(f, storage);
        const Run r = runMoescope({"route", file.qpath(), "--json", "--device", device, "--scoring", "sigmoid",
                                "--capacity-group", "sequence", "--sweep-capacity", "0.5:2:0.25", "--expert-choice",
                                "--balance-bias", "0.01", "--batch-tokens", "500"});
        QVERIFY2(r.exitCode == 0, r.err.constData());
        const QJsonObject j = r.json();
        RoutingRules rules;
        rules.topK = kTopK;
        rules.scoring = Scoring::Sigmoid;
        const double cf = 1.25;

        const QJsonObject sweep = j["capacity_sweep"].toObject();
        QCOMPARE(sweep["policy"].toString(), QString("token-order"));
        QCOMPARE(sweep["capacity_factors"].toArray().size(), 7);
        const QJsonObject ec = j["expert_choice"].toObject();
        const QJsonObject balance = j["balance"].toObject();
        QCOMPARE(balance["batch_tokens"].toInt(), 500);
        for (int l = 0; l < 2; ++l) {
            const std::vector<double> seen = seenLogits(f.layers[l], 16);
            const ReferenceLayer ref = referenceRoute(seen, kTokens, kExperts, rules);
            const QJsonObject s = sweep["layers"].toArray()[l].toObject();
            for (int i = 0; i < 7; ++i) {
                const double factor = 0.5 + 0.25 * i;
                const ReferenceDrops d = referenceDrops(ref, f.sequenceOffsets, factor, false, true);
                QCOMPARE(s["dropped_fraction"].toArray()[i].toDouble(), double(d.dropped) / double(kTopK * ref.validRows));
                QCOMPARE(s["fully_dropped_fraction"].toArray()[i].toDouble(), double(d.fullyDropped) / double(ref.validRows));
            }
            const ReferenceExpertChoice want = referenceExpertChoice(seen, kTokens, kExperts, rules, f.sequenceOffsets, cf, true);
            const QJsonObject e = ec["layers"].toArray()[l].toObject();
            QCOMPARE(integers(e["counts"].toArray()), want.taken);
            QCOMPARE(integers(e["capacity"].toArray()), want.capacity);
            QCOMPARE(e["unrouted_tokens"].toInteger(), want.unrouted);

            const ReferenceBalance b = referenceBalance(seen, kTokens, kExperts, rules, 0.01, 500);
            const QJsonObject bl = balance["layers"].toArray()[l].toObject();
            const QJsonArray with = bl["max_vio_with"].toArray(), without = bl["max_vio_without"].toArray();
            QCOMPARE(with.size(), int(b.maxVioWith.size()));
            const QJsonArray bias = bl["final_bias"].toArray();
            for (std::size_t i = 0; i < b.maxVioWith.size(); ++i) {
                QVERIFY(close(without[int(i)].toDouble(), b.maxVioWithout[i], 1e-12));
                // The GPU compares p + b in float: a near tie may move a token.
                QVERIFY(device == "gpu" ? std::abs(with[int(i)].toDouble() - b.maxVioWith[i]) < 0.05
                                        : close(with[int(i)].toDouble(), b.maxVioWith[i], 1e-12));
            }
            for (int x = 0; x < kExperts; ++x)
                QVERIFY(std::abs(bias[x].toDouble() - b.finalBias[x]) <= (device == "gpu" ? 0.04 : 1e-12));
        }
    }

    // Without OpenCL as `env` sets it up: `gpu` refuses with `why` on stderr and no
    // output, `auto` routes on the CPU.
    static void expectCpuWithout(const QProcessEnvironment &env, const char *why)
    {
        const TempDump file(fixture());
        const Run gpu = runMoescope({"route", file.qpath(), "--device", "gpu", "--json"}, env);
        QCOMPARE(gpu.exitCode, 1);
        QVERIFY2(gpu.err.contains(why), gpu.err.constData());
        QVERIFY(gpu.out.isEmpty());
        const Run automatic = runMoescope({"route", file.qpath(), "--device", "auto", "--json"}, env);
        QCOMPARE(automatic.exitCode, 0);
        QCOMPARE(automatic.json()["layers"].toArray().size(), 2);
    }

    void noOpenClDevice()
    {
        // An ICD loader that finds no vendor: no OpenCL platform at all.
        QTemporaryDir noVendors;
        QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
        env.insert("OCL_ICD_VENDORS", noVendors.path());
        expectCpuWithout(env, "no OpenCL device");
    }

    // No OpenCL loader at all (it is opened at run time, not linked): the program still
    // starts and says what is missing.
    void noOpenClLoader()
    {
        QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
        env.insert("MOESCOPE_OPENCL_LIBRARY", "/nonexistent/libOpenCL.so.1");
        expectCpuWithout(env, "OpenCL loader (/nonexistent/libOpenCL.so.1");
    }

    void badArguments_data()
    {
        QTest::addColumn<QStringList>("args");
        QTest::addColumn<QString>("message");
        QTest::newRow("sweep syntax") << QStringList{"--sweep-capacity", "1:2"} << "needs A:B:STEP";
        QTest::newRow("sweep order") << QStringList{"--sweep-capacity", "2:1:0.5"} << "0 < A <= B";
        QTest::newRow("sweep step") << QStringList{"--sweep-capacity", "1:2:0"} << "STEP > 0";
        QTest::newRow("balance rate") << QStringList{"--balance-bias", "0"} << "positive update rate";
        QTest::newRow("batch alone") << QStringList{"--batch-tokens", "10"} << "goes with --balance-bias";
        QTest::newRow("batch size") << QStringList{"--balance-bias", "0.1", "--batch-tokens", "0"} << "at least 1";
        QTest::newRow("expert choice value") << QStringList{"--expert-choice=1"} << "takes no value";
        QTest::newRow("device") << QStringList{"--device", "tpu"} << "--device must be one of";
    }

    void badArguments()
    {
        QFETCH(QStringList, args);
        QFETCH(QString, message);
        const TempDump file(fixture());
        const Run r = runMoescope(QStringList{"route", file.qpath()} + args);
        QCOMPARE(r.exitCode, 2);
        QVERIFY2(QString(r.err).contains(message), r.err.constData());
        QVERIFY(r.out.isEmpty());
    }
};

QTEST_GUILESS_MAIN(RouteCommandTest)
#include "RouteCommandTest.moc"
