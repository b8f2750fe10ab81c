// `compare` and the analyses `stats` gained, run as a user runs them: the real binary,
// no display, JSON parsed back and checked against plain computations written here.
#include "support/RunMoescope.h"
#include "support/TempDump.h"

#include <QtTest>

#include <QDir>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>

#include <cmath>
#include <map>
#include <random>
#include <set>

using namespace moescope::test;

namespace {
constexpr int E = 5, K = 2, T = 300;

std::vector<std::int64_t> choices(unsigned seed)
{
    std::mt19937 rng(seed);
    std::vector<std::int64_t> ids;
    for (int t = 0; t < T; ++t) {
        const int a = int(rng() % E);
        const int b = (a + 1 + int(rng() % (E - 1))) % E;
        ids.push_back(a);
        ids.push_back(b);
    }
    return ids;
}

DumpFixture dump(const std::vector<std::int64_t> &ids, int step, const std::vector<std::string> &layers = {"00"})
{
    DumpFixture f;
    f.numExperts = E;
    f.topK = K;
    for (int t = 0; t < T; ++t)
        f.tokenIds.push_back(t % 13);
    f.sequenceOffsets = {0, 100, 300};
    for (const std::string &name : layers) {
        FixtureLayer l;
        l.name = name;
        l.topkIds = ids;
        f.layers.push_back(l);
    }
    f.numberAttributes["checkpoint_step"] = step;
    return f;
}

double plainSaturation(const std::vector<std::int64_t> &c, const std::vector<std::int64_t> &r)
{
    double overlap = 0;
    for (int t = 0; t < T; ++t) {
        const std::set<std::int64_t> a{c[2 * t], c[2 * t + 1]}, b{r[2 * t], r[2 * t + 1]};
        for (auto e : a)
            overlap += b.count(e);
    }
    return overlap / (K * T);
}
} // namespace

class CliCompareTest : public QObject {
    Q_OBJECT
private slots:
    void comparesASeries()
    {
        const auto a = choices(1), b = choices(2), c = choices(3);
        const TempDump da(dump(a, 10), {}, "a.h5"), db(dump(b, 20), {}, "b.h5"), dc(dump(c, 30), {}, "c.h5");
        const Run r = runMoescope({"compare", da.qpath(), db.qpath(), dc.qpath(), "--json"});
        QVERIFY2(r.exitCode == 0, r.err.constData());
        const QJsonObject j = r.json();
        QCOMPARE(j["reference"].toString(), dc.qpath());
        QCOMPARE(j["files"].toArray().size(), 3);
        QCOMPARE(j["steps"].toArray()[1].toInt(), 20);
        const QJsonObject layer = j["layers"].toArray()[0].toObject();
        QCOMPARE(layer["name"].toString(), QString("00"));
        const QJsonArray cps = layer["checkpoints"].toArray();
        QCOMPARE(cps.size(), 2);
        QCOMPARE(cps[0].toObject()["file"].toString(), da.qpath());
        QVERIFY(std::fabs(cps[0].toObject()["saturation"].toDouble() - plainSaturation(a, c)) < 1e-12);
        QVERIFY(std::fabs(cps[1].toObject()["saturation"].toDouble() - plainSaturation(b, c)) < 1e-12);
        QCOMPARE(cps[1].toObject()["expert_jaccard"].toArray().size(), E);
        for (const char *key : {"saturation_top1", "load_drift", "mean_jaccard"})
            QVERIFY2(cps[0].toObject()[key].isDouble(), key);
        const QJsonArray lf = layer["last_fluctuation"].toArray();
        QCOMPARE(lf.size(), 2);
        QVERIFY(lf[0].toDouble() >= lf[1].toDouble()); // at or after step 10 includes at or after 20

        // Two files: no last fluctuation; --reference picks the reference.
        const Run two = runMoescope({"compare", da.qpath(), db.qpath(), "--reference", da.qpath(), "--json"});
        QVERIFY2(two.exitCode == 0, two.err.constData());
        QCOMPARE(two.json()["reference"].toString(), da.qpath());
        const QJsonObject l2 = two.json()["layers"].toArray()[0].toObject();
        QVERIFY(!l2.contains("last_fluctuation"));
        QCOMPARE(l2["checkpoints"].toArray()[0].toObject()["file"].toString(), db.qpath());

        const Run text = runMoescope({"compare", da.qpath(), db.qpath(), dc.qpath()});
        QCOMPARE(text.exitCode, 0);
        QVERIFY(text.out.contains("saturation"));
    }

    void refusesOtherTokensNamingBothFiles()
    {
        const auto a = choices(4);
        DumpFixture other = dump(a, 2);
        other.tokenIds[77] = 12345;
        const TempDump da(dump(a, 1), {}, "first.h5"), db(other, {}, "second.h5");
        const Run r = runMoescope({"compare", da.qpath(), db.qpath(), "--json"});
        QCOMPARE(r.exitCode, 1);
        QVERIFY2(r.err.contains(da.qpath().toUtf8()) && r.err.contains(db.qpath().toUtf8()), r.err.constData());
        QVERIFY2(r.err.contains("position 77"), r.err.constData());
        QVERIFY(r.out.isEmpty());
    }

    void warnsAboutLayersInOnlySomeDumps()
    {
        const auto a = choices(5);
        const TempDump da(dump(a, 1, {"00", "01"}), {}, "a.h5"), db(dump(a, 2, {"00"}), {}, "b.h5");
        const Run r = runMoescope({"compare", da.qpath(), db.qpath(), "--json"});
        QVERIFY2(r.exitCode == 0, r.err.constData());
        QVERIFY2(r.err.contains("warning: layer 01"), r.err.constData());
        QCOMPARE(r.json()["layers"].toArray().size(), 1);
        QCOMPARE(r.json()["layers"].toArray()[0].toObject()["checkpoints"].toArray()[0].toObject()["saturation"].toDouble(), 1.0);
    }

    void badArguments()
    {
        const TempDump da(dump(choices(6), 1), {}, "a.h5");
        QCOMPARE(runMoescope({"compare", da.qpath()}).exitCode, 2);
        QCOMPARE(runMoescope({"compare", da.qpath(), da.qpath(), "--bogus"}).exitCode, 2);
        const Run missing = runMoescope({"compare", da.qpath(), da.dir() + "/nothing.h5"});
        QCOMPARE(missing.exitCode, 1);
        QVERIFY(missing.err.contains("nothing.h5"));
    }

    void bundledSeriesShowsTheRouterSettling()
    {
        // The sample series: six checkpoints of each run; saturation against the last
        // rises from the first checkpoint to the one before the reference.
        const QDir series(qEnvironmentVariable("MOESCOPE_RESOURCES") + "/series");
        for (const QString run : {"balanced", "collapsed"}) {
            QStringList files;
            for (const QString &name : series.entryList({run + "-step*.h5"}, QDir::Files, QDir::Name))
                files << series.filePath(name);
            QVERIFY2(files.size() >= 5, qPrintable(run));
            const Run r = runMoescope(QStringList{"compare"} + files + QStringList{"--json"});
            QVERIFY2(r.exitCode == 0, r.err.constData());
            QCOMPARE(r.json()["reference"].toString(), files.last());
            for (const QJsonValue &layer : r.json()["layers"].toArray()) {
                const QJsonArray cps = layer.toObject()["checkpoints"].toArray();
                QCOMPARE(cps.size(), files.size() - 1);
                QVERIFY(cps.last().toObject()["saturation"].toDouble() > cps.first().toObject()["saturation"].toDouble());
                QCOMPARE(layer.toObject()["last_fluctuation"].toArray().size(), files.size() - 1);
            }
        }
    }

    void statsCarriesLocalityAndVocabulary()
    {
        // Planted: token id 3 always goes to expert 4 first; every token repeats its
        // predecessor's choices half the time.
        std::mt19937 rng(8);
        auto ids = choices(7);
        DumpFixture f = dump(ids, 1);
        for (int t = 0; t < T; ++t) {
            if (t > 0 && rng() % 2)
                std::copy(ids.begin() + 2 * (t - 1), ids.begin() + 2 * t, ids.begin() + 2 * t);
            if (f.tokenIds[std::size_t(t)] == 3) {
                ids[2 * t] = 4;
                ids[2 * t + 1] = 0;
            }
        }
        f.layers[0].topkIds = ids;
        const TempDump d(f);
        const Run r = runMoescope({"stats", d.qpath(), "--json"});
        QVERIFY2(r.exitCode == 0, r.err.constData());
        const QJsonObject layer = r.json()["layers"].toArray()[0].toObject();
        const QJsonObject loc = layer["locality"].toObject();
        // Plain locality over pairs inside the two sequences.
        long pairs = 0, same = 0, meet = 0;
        for (int t = 0; t + 1 < T; ++t) {
            if (t + 1 == 100)
                continue;
            ++pairs;
            same += ids[2 * t] == ids[2 * t + 2];
            const std::set<std::int64_t> x{ids[2 * t], ids[2 * t + 1]};
            meet += x.count(ids[2 * t + 2]) + x.count(ids[2 * t + 3]) > 0;
        }
        QCOMPARE(loc["pairs"].toInt(), int(pairs));
        QVERIFY(std::fabs(loc["first"].toDouble() - double(same) / pairs) < 1e-12);
        QVERIFY(std::fabs(loc["any"].toDouble() - double(meet) / pairs) < 1e-12);
        QCOMPARE(loc["first_uniform"].toDouble(), 1.0 / E);
        QVERIFY(std::fabs(loc["any_uniform"].toDouble() - (1 - 3.0 / 10.0)) < 1e-12); // 1 - C(3,2)/C(5,2)
        QVERIFY(loc.contains("first_load_aware") && loc.contains("any_load_aware"));
        // Plain vocabulary specialisation: 13 ids, each 23 or 24 times (>= 10).
        std::map<std::int64_t, std::map<std::int64_t, int>> m1, mk;
        std::map<std::int64_t, int> n;
        for (int t = 0; t < T; ++t) {
            const auto v = f.tokenIds[std::size_t(t)];
            ++n[v];
            ++m1[v][ids[2 * t]];
            ++mk[v][ids[2 * t]];
            ++mk[v][ids[2 * t + 1]];
        }
        auto mean = [&](std::map<std::int64_t, std::map<std::int64_t, int>> &m) {
            double s = 0;
            for (const auto &[v, nv] : n) {
                int best = 0;
                for (const auto &[e, c] : m[v])
                    best = std::max(best, c);
                s += double(best) / nv;
            }
            return s / double(n.size());
        };
        const QJsonObject vocab = layer["vocabulary_specialisation"].toObject();
        QCOMPARE(vocab["ids"].toInt(), 13);
        QVERIFY(std::fabs(vocab["top1"].toDouble() - mean(m1)) < 1e-12);
        QVERIFY(std::fabs(vocab["topk"].toDouble() - mean(mk)) < 1e-12);
    }
};

QTEST_GUILESS_MAIN(CliCompareTest)
#include "CliCompareTest.moc"
