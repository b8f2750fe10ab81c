// `moescope placement` run as a user runs it: its JSON against plain computations
// written here from the dump's recorded choices, plans from another dump, and every
// rule a setting can break (exit 2, the rule named).
#include "support/RunMoescope.h"
#include "support/PlainPlacement.h"
#include "support/TempDump.h"

#include <QtTest>

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>

#include <random>

using namespace moescope::test;

namespace {
constexpr int kExperts = 8, kTopK = 2, kTokens = 400;

// Recorded choices where expert `hot` is in about half the tokens.
DumpFixture plantedFixture(unsigned seed, int hot)
{
    std::mt19937 rng(seed);
    DumpFixture f;
    f.numExperts = kExperts;
    f.topK = kTopK;
    for (int layer = 0; layer < 2; ++layer) {
        FixtureLayer l;
        l.name = "0" + std::to_string(layer);
        l.index = layer;
        for (int t = 0; t < kTokens; ++t) {
            int a = rng() % 2 == 0 ? hot : int(rng() % kExperts);
            int b = int(rng() % kExperts);
            while (b == a)
                b = int(rng() % kExperts);
            l.topkIds.push_back(a);
            l.topkIds.push_back(b);
        }
        f.layers.push_back(l);
    }
    for (int t = 0; t < kTokens; ++t)
        f.tokenIds.push_back(t % 7);
    return f;
}

std::vector<double> countsOf(const FixtureLayer &l)
{
    std::vector<double> c(kExperts, 0.0);
    for (std::int64_t id : l.topkIds)
        c[id] += 1;
    return c;
}

std::vector<double> doubles(const QJsonArray &a)
{
    std::vector<double> v;
    for (const auto &x : a)
        v.push_back(x.toDouble());
    return v;
}

bool near(const std::vector<double> &a, const std::vector<double> &b)
{
    if (a.size() != b.size())
        return false;
    for (std::size_t i = 0; i < a.size(); ++i)
        if (std::abs(a[i] - b[i]) > 1e-9 * (1 + std::abs(b[i])))
            return false;
    return true;
}
} // namespace

class PlacementCommandTest : public QObject {
    Q_OBJECT
private slots:
    void initTestCase() { QVERIFY2(QFile::exists(qEnvironmentVariable("MOESCOPE_BIN")), "MOESCOPE_BIN not set"); }

    void contiguousAgainstPlain()
    {
        const DumpFixture f = plantedFixture(1, 0);
        const TempDump file(f);
        const Run r = runMoescope({"placement", file.qpath(), "--ranks", "4", "--json"});
        QCOMPARE(r.exitCode, 0);
        const QJsonObject j = r.json();
        QCOMPARE(j["policy"].toString(), QString("contiguous"));
        QCOMPARE(j["replicas"].toInt(), kExperts);
        const QJsonArray layers = j["layers"].toArray();
        QCOMPARE(layers.size(), 2);
        double maxSum = 0, meanSum = 0;
        for (int i = 0; i < 2; ++i) {
            const FixtureLayer &fl = f.layers[std::size_t(i)];
            const QJsonObject l = layers[i].toObject();
            QCOMPARE(l["name"].toString(), QString::fromStdString(fl.name));
            const auto c = countsOf(fl);
            std::vector<double> L(4, 0.0);
            for (int e = 0; e < kExperts; ++e)
                L[e / 2] += c[e];
            QVERIFY(near(doubles(l["rank_load"].toArray()), L));
            const double top = *std::max_element(L.begin(), L.end());
            QCOMPARE(l["straggler"].toDouble(), top / (kTopK * kTokens / 4.0));
            maxSum += top;
            meanSum += kTopK * kTokens / 4.0;
            // Tokens 0-99 on rank 0, 100-199 on rank 1, ...
            std::vector<double> V(16, 0.0);
            for (int t = 0; t < kTokens; ++t)
                for (int i2 = 0; i2 < kTopK; ++i2)
                    V[(t * 4 / kTokens) * 4 + fl.topkIds[std::size_t(t * kTopK + i2)] / 2] += 1;
            const QJsonArray rows = l["all_to_all"].toArray();
            QCOMPARE(rows.size(), 4);
            double leaving = 0, total = 0;
            for (int s = 0; s < 4; ++s) {
                QVERIFY(near(doubles(rows[s].toArray()), std::vector<double>(V.begin() + s * 4, V.begin() + s * 4 + 4)));
                for (int d = 0; d < 4; ++d) {
                    total += V[s * 4 + d];
                    leaving += s != d ? V[s * 4 + d] : 0;
                }
            }
            QCOMPARE(total, double(kTopK * kTokens));
            QCOMPARE(l["leaving_share"].toDouble(), leaving / total);
            // Capacity ceil(1.25 * 800 / 8) = 125 per expert; 250 per rank pooled.
            double dropped = 0, pooled = 0;
            for (double x : c)
                dropped += std::max(0.0, x - 125);
            for (double x : L)
                pooled += std::max(0.0, x - 250);
            QCOMPARE(l["dropped_fraction"].toDouble(), dropped / 800);
            QCOMPARE(l["rank_pooled_dropped_fraction"].toDouble(), pooled / 800);
        }
        QCOMPARE(j["model_straggler"].toDouble(), maxSum / meanSum);
        // The text form names the policy and the model's straggler.
        const Run text = runMoescope({"placement", file.qpath(), "--ranks", "4", "--policy", "round-robin"});
        QCOMPARE(text.exitCode, 0);
        QVERIFY(text.out.contains("round-robin on R=4"));
    }

    // The hot expert is replicated; the rank loads are the plain balancer's.
    void eplbAgainstPlain()
    {
        const DumpFixture f = plantedFixture(2, 5);
        const TempDump file(f);
        const Run r = runMoescope({"placement", file.qpath(), "--ranks", "4", "--policy", "eplb", "--replicas", "12", "--json"});
        QCOMPARE(r.exitCode, 0);
        const QJsonArray layers = r.json()["layers"].toArray();
        for (int i = 0; i < 2; ++i) {
            const auto c = countsOf(f.layers[std::size_t(i)]);
            const QJsonObject l = layers[i].toObject();
            auto expected = plainGlobalRankLoads(c, 12, 4);
            auto got = doubles(l["rank_load"].toArray());
            std::sort(expected.begin(), expected.end());
            std::sort(got.begin(), got.end());
            QVERIFY(near(got, expected));
            // The hot expert holds more than one slot.
            int hotSlots = 0;
            for (const auto &rank : l["rank_experts"].toArray())
                for (const auto &e : rank.toArray())
                    hotSlots += e.toInt() == 5;
            QVERIFY(hotSlots > 1);
        }
        QCOMPARE(r.json()["replicas"].toInt(), 12);
    }

    // Planned on dump A (hot expert 0), run on dump B (hot expert 3).
    void planFromAnotherDump()
    {
        const DumpFixture a = plantedFixture(3, 0), b = plantedFixture(4, 3);
        const TempDump fileA(a), fileB(b);
        const Run r = runMoescope({"placement", fileB.qpath(), "--ranks", "4", "--policy", "eplb", "--replicas", "12",
                                   "--plan-from", fileA.qpath(), "--json"});
        QCOMPARE(r.exitCode, 0);
        QCOMPARE(r.json()["plan_from"].toString(), fileA.qpath());
        const QJsonArray layers = r.json()["layers"].toArray();
        for (int i = 0; i < 2; ++i) {
            const auto plan = plainGlobalPlacement(countsOf(a.layers[std::size_t(i)]), 12, 4);
            auto expected = plainRankLoads(plan, countsOf(b.layers[std::size_t(i)]), 4);
            auto got = doubles(layers[i].toObject()["rank_load"].toArray());
            QVERIFY(near(got, expected));
        }
        // A plan from a dump with other experts is refused, naming that file.
        DumpFixture other = a;
        other.numExperts = 16;
        const TempDump wrong(other);
        const Run refused = runMoescope({"placement", fileB.qpath(), "--ranks", "4", "--plan-from", wrong.qpath()});
        QCOMPARE(refused.exitCode, 1);
        QVERIFY(refused.err.contains(wrong.qpath().toUtf8()));
        // So is one without a layer of this dump, naming the layer.
        DumpFixture renamed = a;
        renamed.layers[1].name = "07";
        const TempDump partial(renamed);
        const Run missing = runMoescope({"placement", fileB.qpath(), "--ranks", "4", "--plan-from", partial.qpath()});
        QCOMPARE(missing.exitCode, 1);
        QVERIFY2(missing.err.contains((partial.qpath() + ": /layers/01: is missing").toUtf8()), missing.err.constData());
    }

    void badSettings_data()
    {
        QTest::addColumn<QStringList>("options");
        QTest::addColumn<QString>("rule");
        QTest::newRow("E not a multiple of R") << QStringList{"--ranks", "3"} << "must be a multiple of R";
        QTest::newRow("P not a multiple of R") << QStringList{"--ranks", "4", "--policy", "eplb", "--replicas", "10"}
                                               << "P = 10 physical experts must be a multiple of R";
        QTest::newRow("P below E") << QStringList{"--ranks", "2", "--policy", "eplb", "--replicas", "6"} << "at least E";
        QTest::newRow("G not dividing E") << QStringList{"--ranks", "4", "--policy", "eplb", "--groups", "3"}
                                          << "G = 3 expert groups must divide E = 8";
        QTest::newRow("N not dividing R") << QStringList{"--ranks", "4", "--policy", "eplb", "--nodes", "3"}
                                          << "N = 3 nodes must divide R = 4";
        QTest::newRow("replicas without eplb") << QStringList{"--ranks", "4", "--replicas", "12"} << "need the eplb policy";
        QTest::newRow("no ranks") << QStringList{} << "--ranks R is required";
        QTest::newRow("zero ranks") << QStringList{"--ranks", "0"} << "--ranks must be 1";
        QTest::newRow("policy") << QStringList{"--ranks", "4", "--policy", "random"} << "--policy";
    }
    void badSettings()
    {
        QFETCH(QStringList, options);
        QFETCH(QString, rule);
        const TempDump file(plantedFixture(5, 1));
        const Run r = runMoescope(QStringList{"placement", file.qpath()} + options);
        QCOMPARE(r.exitCode, 2);
        QVERIFY2(r.err.contains(rule.toUtf8()), r.err.constData());
        QVERIFY(r.out.isEmpty());
    }
};

QTEST_GUILESS_MAIN(PlacementCommandTest)
#include "PlacementCommandTest.moc"
