// Checkpoints compared on real files: a pair with a known share of tokens re-routed,
// a series of three for the last fluctuation, chunking that must not matter, layers
// routed from logits, and the refusals (other tokens, other E or k, missing layers).
// Expected values come from plain set arithmetic written here from analyses.md.
#include "analysis/CheckpointComparison.h"
#include "support/TempDump.h"

#include <QtTest>

#include <cmath>
#include <memory>
#include <random>
#include <set>

using namespace moescope;
using namespace moescope::test;

namespace {

constexpr int E = 6, K = 2, T = 500;

// Recorded top-2 choices, random (seeded), for `layers` layers named 00, 01, ...
std::vector<std::int64_t> randomChoices(unsigned seed)
{
    std::mt19937 rng(seed);
    std::vector<std::int64_t> ids(std::size_t(T) * K);
    for (int t = 0; t < T; ++t) {
        const int a = int(rng() % E);
        int b = int(rng() % (E - 1));
        b += b >= a;
        ids[std::size_t(t) * K] = a;
        ids[std::size_t(t) * K + 1] = b;
    }
    return ids;
}

DumpFixture checkpoint(const std::vector<std::vector<std::int64_t>> &layerChoices, std::optional<int> step,
                       std::vector<std::string> names = {})
{
    DumpFixture f;
    f.numExperts = E;
    f.topK = K;
    for (int t = 0; t < T; ++t)
        f.tokenIds.push_back((t * 7) % 50);
    for (std::size_t l = 0; l < layerChoices.size(); ++l) {
        FixtureLayer layer;
        layer.name = names.empty() ? "0" + std::to_string(l) : names[l];
        layer.index = std::int64_t(l);
        layer.topkIds = layerChoices[l];
        f.layers.push_back(layer);
    }
    if (step)
        f.numberAttributes["checkpoint_step"] = *step;
    return f;
}

std::set<std::int64_t> setAt(const std::vector<std::int64_t> &ids, int t)
{
    return {ids[std::size_t(t) * K], ids[std::size_t(t) * K + 1]};
}

struct Plain {
    double saturation, top1, drift, meanJaccard;
    std::vector<double> jaccard, change;
};

// analyses.md over two full choice arrays (every token valid).
Plain plainCompare(const std::vector<std::int64_t> &c, const std::vector<std::int64_t> &r)
{
    Plain p{};
    std::vector<std::set<int>> tc(E), tr(E);
    double overlap = 0, same = 0;
    for (int t = 0; t < T; ++t) {
        const auto a = setAt(c, t), b = setAt(r, t);
        for (auto e : a) {
            tc[std::size_t(e)].insert(t);
            overlap += b.count(e);
        }
        for (auto e : b)
            tr[std::size_t(e)].insert(t);
        same += c[std::size_t(t) * K] == r[std::size_t(t) * K];
    }
    p.saturation = overlap / (K * T);
    p.top1 = same / T;
    double jsum = 0;
    for (int e = 0; e < E; ++e) {
        std::set<int> both, any;
        for (int t : tc[std::size_t(e)])
            (tr[std::size_t(e)].count(t) ? both : any).insert(t);
        any.insert(tr[std::size_t(e)].begin(), tr[std::size_t(e)].end());
        any.insert(both.begin(), both.end());
        p.jaccard.push_back(double(both.size()) / double(any.size()));
        jsum += p.jaccard.back();
        const double d = double(tc[std::size_t(e)].size()) / (K * T) - double(tr[std::size_t(e)].size()) / (K * T);
        p.change.push_back(d);
        p.drift += 0.5 * std::fabs(d);
    }
    p.meanJaccard = jsum / E;
    return p;
}

bool near(double a, double b)
{
    return std::fabs(a - b) < 1e-12;
}

std::vector<const RoutingDump *> pointers(const std::vector<std::unique_ptr<RoutingDump>> &dumps)
{
    std::vector<const RoutingDump *> p;
    for (const auto &d : dumps)
        p.push_back(d.get());
    return p;
}

} // namespace

class CheckpointComparisonTest : public QObject {
    Q_OBJECT
private slots:
    void knownShareRerouted_data()
    {
        QTest::addColumn<int>("chunkRows");
        QTest::newRow("one chunk") << 0;
        QTest::newRow("chunks of 7") << 7;
    }

    void knownShareRerouted()
    {
        QFETCH(int, chunkRows);
        // B is A with every fourth token sent to two experts outside A's set: a
        // quarter re-routed, so saturation is exactly 0.75 at k and at 1.
        const auto a = randomChoices(1);
        auto b = a;
        for (int t = 0; t < T; t += 4) {
            const auto old = setAt(a, t);
            int slot = 0;
            for (int e = 0; e < E && slot < K; ++e)
                if (!old.count(e))
                    b[std::size_t(t) * K + std::size_t(slot++)] = e;
        }
        const TempDump fa(checkpoint({a}, 1000), {}, "a.h5");
        const TempDump fb(checkpoint({b}, 2000), {}, "b.h5");
        std::vector<std::unique_ptr<RoutingDump>> dumps;
        dumps.push_back(std::make_unique<RoutingDump>(fa.path()));
        dumps.push_back(std::make_unique<RoutingDump>(fb.path()));
        CompareRequest request;
        request.chunkRows = std::uint64_t(chunkRows);
        const CheckpointComparison cmp = compareCheckpoints(pointers(dumps), request);
        QCOMPARE(cmp.reference, std::size_t(1)); // the highest step
        QCOMPARE(cmp.layers.size(), std::size_t(1));
        const CheckpointFigures &f = cmp.layers[0].figures.checkpoints[0];
        QCOMPARE(f.saturation, 0.75);
        QCOMPARE(f.saturationTop1, 0.75);
        const Plain p = plainCompare(a, b);
        QVERIFY(near(f.loadDrift, p.drift));
        QVERIFY(near(f.meanJaccard, p.meanJaccard));
        for (int e = 0; e < E; ++e) {
            QVERIFY(near(f.expertJaccard[std::size_t(e)], p.jaccard[std::size_t(e)]));
            QVERIFY(near(f.loadChange[std::size_t(e)], p.change[std::size_t(e)]));
        }
        // The reference against itself: everything agrees.
        const CheckpointFigures &self = cmp.layers[0].figures.checkpoints[1];
        QCOMPARE(self.saturation, 1.0);
        QCOMPARE(self.meanJaccard, 1.0);
        QCOMPARE(self.loadDrift, 0.0);
        QVERIFY(cmp.layers[0].figures.lastFluctuation.empty());
    }

    void lastFluctuationOverASeries()
    {
        // Given out of step order; the reference is step 300 (the last given is not).
        const auto c100 = randomChoices(2), c200 = randomChoices(3), c300 = randomChoices(4);
        const TempDump f200(checkpoint({c200}, 200), {}, "s200.h5");
        const TempDump f300(checkpoint({c300}, 300), {}, "s300.h5");
        const TempDump f100(checkpoint({c100}, 100), {}, "s100.h5");
        std::vector<std::unique_ptr<RoutingDump>> dumps;
        for (const auto *f : {&f200, &f300, &f100})
            dumps.push_back(std::make_unique<RoutingDump>(f->path()));
        const CheckpointComparison cmp = compareCheckpoints(pointers(dumps));
        QCOMPARE(cmp.reference, std::size_t(1));
        QCOMPARE(cmp.order, (std::vector<std::size_t>{2, 0, 1}));
        const auto &lf = cmp.layers[0].figures.lastFluctuation;
        // Plain: per token, the last checkpoint before the reference whose top1 differs.
        long at200 = 0, at100 = 0;
        for (int t = 0; t < T; ++t) {
            const auto top = [&](const std::vector<std::int64_t> &c) { return c[std::size_t(t) * K]; };
            if (top(c200) != top(c300))
                ++at200;
            else if (top(c100) != top(c300))
                ++at100;
        }
        QVERIFY(near(lf[0], double(at200) / T));            // at or after step 200
        QVERIFY(near(lf[2], double(at200 + at100) / T));    // at or after step 100
        QCOMPARE(lf[1], 0.0);                               // the reference itself
        // An explicit reference: step 200, so only step 100 lies before it.
        CompareRequest request;
        request.reference = 0;
        const CheckpointComparison other = compareCheckpoints(pointers(dumps), request);
        long before = 0;
        for (int t = 0; t < T; ++t)
            before += c100[std::size_t(t) * K] != c200[std::size_t(t) * K];
        QVERIFY(near(other.layers[0].figures.lastFluctuation[2], double(before) / T));
        QCOMPARE(other.layers[0].figures.lastFluctuation[1], 0.0); // step 300 lies after the reference
    }

    void routedFromLogitsAsRecorded()
    {
        // The same choices given as logits (chosen experts well above the rest) must
        // compare exactly as the recorded ids do.
        const auto a = randomChoices(5), b = randomChoices(6);
        DumpFixture fa = checkpoint({a}, 1), fb = checkpoint({b}, 2);
        std::mt19937 rng(9);
        for (int t = 0; t < T; ++t) {
            for (int e = 0; e < E; ++e)
                fb.layers[0].logits.push_back(float(rng() % 100) / 100.0f);
            fb.layers[0].logits[std::size_t(t * E + b[std::size_t(t) * K])] = 9;
            fb.layers[0].logits[std::size_t(t * E + b[std::size_t(t) * K + 1])] = 8;
        }
        fb.layers[0].topkIds.clear();
        const TempDump da(fa, {}, "a.h5"), db(fb, {}, "b.h5");
        RoutingDump ra(da.path()), rb(db.path());
        const CheckpointComparison cmp = compareCheckpoints({&ra, &rb});
        const Plain q = plainCompare(a, b); // A against the reference B (the higher step)
        QVERIFY(near(cmp.layers[0].figures.checkpoints[0].saturation, q.saturation));
        QVERIFY(near(cmp.layers[0].figures.checkpoints[0].meanJaccard, q.meanJaccard));
    }

    void layersInOnlySomeDumpsAreLeftOut()
    {
        const auto a = randomChoices(7);
        const TempDump da(checkpoint({a, a}, 1, {"00", "01"}), {}, "a.h5");
        const TempDump db(checkpoint({a, a}, 2, {"00", "02"}), {}, "b.h5");
        RoutingDump ra(da.path()), rb(db.path());
        const CheckpointComparison cmp = compareCheckpoints({&ra, &rb});
        QCOMPARE(cmp.layers.size(), std::size_t(1));
        QCOMPARE(cmp.layers[0].name, std::string("00"));
        QCOMPARE(cmp.warnings.size(), std::size_t(2));
        QVERIFY(cmp.warnings[0].find("01") != std::string::npos && cmp.warnings[0].find(da.path()) != std::string::npos);
        QVERIFY(cmp.warnings[1].find("02") != std::string::npos && cmp.warnings[1].find(db.path()) != std::string::npos);
    }

    void refusesDumpsOfOtherTokens_data()
    {
        QTest::addColumn<QString>("change");
        QTest::addColumn<QString>("expected");
        QTest::newRow("other T") << "T" << "tokens";
        QTest::newRow("other ids") << "ids" << "position 123";
        QTest::newRow("other E") << "E" << "num_experts";
        QTest::newRow("other k") << "k" << "top_k";
    }

    void refusesDumpsOfOtherTokens()
    {
        QFETCH(QString, change);
        QFETCH(QString, expected);
        const auto a = randomChoices(8);
        DumpFixture other = checkpoint({a}, 2);
        if (change == "T") {
            other.tokenIds.pop_back();
            other.layers[0].topkIds.resize(other.layers[0].topkIds.size() - K);
        } else if (change == "ids") {
            other.tokenIds[123] += 1;
        } else if (change == "E") {
            other.numExperts = E + 1;
        } else {
            other.topK = 1;
            std::vector<std::int64_t> one;
            for (int t = 0; t < T; ++t)
                one.push_back(a[std::size_t(t) * K]);
            other.layers[0].topkIds = one;
        }
        const TempDump da(checkpoint({a}, 1), {}, "first.h5"), db(other, {}, "second.h5");
        RoutingDump ra(da.path()), rb(db.path());
        try {
            compareCheckpoints({&ra, &rb});
            QFAIL("dumps of other tokens were compared");
        } catch (const CheckpointMismatch &e) {
            const std::string what = e.what();
            QVERIFY2(what.find(da.path()) != std::string::npos && what.find(db.path()) != std::string::npos, e.what());
            QVERIFY2(what.find(expected.toStdString()) != std::string::npos, e.what());
        }
    }
};

QTEST_GUILESS_MAIN(CheckpointComparisonTest)
#include "CheckpointComparisonTest.moc"
