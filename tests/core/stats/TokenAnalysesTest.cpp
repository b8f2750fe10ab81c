// Token locality, vocabulary specialisation, the adjacent co-activation variant and the
// domain specialisation table against plain implementations written here from
// analyses.md (sets, maps and loops, nothing shared with the code under test), on
// choices with planted structure: repetition along sequences, ids planted to one expert.
#include "stats/ExpertPairs.h"
#include "stats/LabelShares.h"
#include "stats/CompactChoices.h"
#include "stats/TokenLocality.h"
#include "stats/VocabularySpecialisation.h"

#include <QtTest>

#include <cmath>
#include <map>
#include <numeric>
#include <random>
#include <set>

using namespace moescope;

namespace {

std::set<int> setOf(const LayerChoices &c, std::int64_t t)
{
    return {c.ids.begin() + t * c.topK, c.ids.begin() + (t + 1) * c.topK};
}

// Choices of T tokens where each token repeats its predecessor's experts with
// probability `repeat`, otherwise draws k distinct experts with a skew towards low ids;
// every seventh token is invalid.
LayerChoices planted(int T, int E, int k, double repeat, unsigned seed, bool invalid = true)
{
    std::mt19937 rng(seed);
    std::uniform_real_distribution<double> u(0, 1);
    LayerChoices c;
    c.numExperts = E;
    c.topK = k;
    c.ids.resize(std::size_t(T) * k);
    c.valid.assign(std::size_t(T), 1);
    for (int t = 0; t < T; ++t) {
        if (t > 0 && u(rng) < repeat) {
            std::copy(c.ids.begin() + (t - 1) * k, c.ids.begin() + t * k, c.ids.begin() + t * k);
        } else {
            std::vector<int> pool(E);
            std::iota(pool.begin(), pool.end(), 0);
            for (int i = 0; i < k; ++i) {
                const int j = i + int(std::pow(u(rng), 2.0) * (E - i));
                std::swap(pool[i], pool[std::min(j, E - 1)]);
                c.ids[std::size_t(t) * k + i] = pool[i];
            }
        }
        if (invalid && t % 7 == 3)
            c.valid[std::size_t(t)] = 0;
    }
    return c;
}

struct PlainLocality {
    double first, any, firstLoad, anyLoad;
    long pairs;
};

PlainLocality plainLocality(const LayerChoices &c, const std::vector<std::int64_t> &offsets)
{
    const std::int64_t T = c.numPositions();
    std::vector<int> seq(std::size_t(T), 0);
    for (std::size_t s = 0; s + 1 < offsets.size(); ++s)
        for (std::int64_t t = offsets[s]; t < offsets[s + 1]; ++t)
            seq[std::size_t(t)] = int(s);
    long pairs = 0, same = 0, meet = 0;
    for (std::int64_t t = 0; t + 1 < T; ++t) {
        if (seq[t] != seq[t + 1] || !c.valid[t] || !c.valid[t + 1])
            continue;
        ++pairs;
        same += c.ids[t * c.topK] == c.ids[(t + 1) * c.topK];
        const auto a = setOf(c, t), b = setOf(c, t + 1);
        std::set<int> both;
        std::set_intersection(a.begin(), a.end(), b.begin(), b.end(), std::inserter(both, both.begin()));
        meet += !both.empty();
    }
    std::map<int, long> first;
    long valid = 0;
    for (std::int64_t t = 0; t < T; ++t)
        if (c.valid[t]) {
            ++valid;
            ++first[c.ids[t * c.topK]];
        }
    double firstLoad = 0;
    for (const auto &[e, n] : first)
        firstLoad += double(n) * double(n) / (double(valid) * double(valid));
    long far = 0, farPairs = 0;
    for (std::int64_t t = 0; t < T; ++t) {
        const std::int64_t u = (t + T / 2) % T;
        if (!c.valid[t] || !c.valid[u])
            continue;
        ++farPairs;
        const auto a = setOf(c, t), b = setOf(c, u);
        bool m = false;
        for (int e : a)
            m |= b.count(e) != 0;
        far += m;
    }
    return {double(same) / pairs, double(meet) / pairs, firstLoad, double(far) / farPairs, pairs};
}

double binomial(int n, int k)
{
    if (k < 0 || k > n)
        return 0;
    double r = 1;
    for (int i = 1; i <= k; ++i)
        r = r * (n - k + i) / i;
    return r;
}

} // namespace

class TokenAnalysesTest : public QObject {
    Q_OBJECT
private slots:
    void uniformChanceIsThePapersValue()
    {
        // Mixtral's Table 5 reference: E = 8, k = 2 gives 12.5 % and 46.4 %.
        QVERIFY(std::fabs(uniformAnyChoiceChance(8, 2) - 0.4642857) < 1e-6);
        for (int E : {2, 5, 8, 64})
            for (int k = 1; k <= E; ++k)
                QVERIFY(std::fabs(uniformAnyChoiceChance(E, k) - (1 - binomial(E - k, k) / binomial(E, k))) < 1e-12);
    }

    void localityMatchesPlain_data()
    {
        QTest::addColumn<int>("E");
        QTest::addColumn<int>("k");
        QTest::addColumn<double>("repeat");
        QTest::newRow("top-1, strong repetition") << 8 << 1 << 0.6;
        QTest::newRow("top-2, planted repetition") << 8 << 2 << 0.4;
        QTest::newRow("top-4, none planted") << 8 << 4 << 0.0;
        // Above 64 experts the sets are compared otherwise: marks, or for k = 8 rows as
        // vectors (DeepSeek-V3's 256 experts, top-8).
        QTest::newRow("E 256 top-8, planted repetition") << 256 << 8 << 0.4;
        QTest::newRow("E 256 top-8, none planted") << 256 << 8 << 0.0;
        QTest::newRow("E 300 top-8, planted repetition") << 300 << 8 << 0.5;
        QTest::newRow("E 100 top-4, planted repetition") << 100 << 4 << 0.4;
    }

    void localityMatchesPlain()
    {
        QFETCH(int, E);
        QFETCH(int, k);
        QFETCH(double, repeat);
        const LayerChoices c = planted(3001, E, k, repeat, 5u + unsigned(k) + unsigned(E));
        const std::vector<std::int64_t> offsets = {0, 100, 101, 1500, 3001};
        const TokenLocality got = tokenLocality(c, offsets);
        const PlainLocality want = plainLocality(c, offsets);
        QCOMPARE(got.pairs, std::int64_t(want.pairs));
        QVERIFY(std::fabs(got.first - want.first) < 1e-12);
        QVERIFY(std::fabs(got.firstLoadAware - want.firstLoad) < 1e-12);
        QCOMPARE(got.firstUniform, 1.0 / E);
        QCOMPARE(got.hasAny, k >= 2);
        if (k >= 2) {
            QVERIFY(std::fabs(got.any - want.any) < 1e-12);
            QVERIFY(std::fabs(got.anyLoadAware - want.anyLoad) < 1e-12);
        } else {
            QVERIFY(std::isnan(got.any));
        }
        // Planted repetition shows above the load-aware chance; without it, it does not.
        if (repeat > 0)
            QVERIFY(got.first > got.firstLoadAware + 0.2);
        else
            QVERIFY(std::fabs(got.first - got.firstLoadAware) < 0.05);
    }

    void localityPairsStayInsideSequences()
    {
        // Two sequences of two tokens; the pair across the boundary would repeat.
        LayerChoices c;
        c.numExperts = 4;
        c.topK = 1;
        c.ids = {0, 1, 1, 2};
        c.valid = {1, 1, 1, 1};
        const TokenLocality l = tokenLocality(c, {0, 2, 4});
        QCOMPARE(l.pairs, std::int64_t(2));
        QCOMPARE(l.first, 0.0);
        QCOMPARE(tokenLocality(c, {}).first, 1.0 / 3);
    }

    void vocabularyMatchesPlain_data()
    {
        QTest::addColumn<int>("k");
        QTest::addColumn<int>("minCount");
        QTest::addColumn<int>("E");
        QTest::addColumn<int>("T");
        QTest::newRow("top-2, min 10") << 2 << 10 << 6 << 4000;
        QTest::newRow("top-3, min 1") << 3 << 1 << 6 << 4000;
        QTest::newRow("top-1, min 25") << 1 << 25 << 6 << 4000;
        // The 8-bit rows with k = 8 (DeepSeek-V3's shape), groups larger than one
        // gathered batch (id -20 holds about 15 % of the tokens), and 16-bit rows.
        QTest::newRow("E 256, top-8, large groups") << 8 << 10 << 256 << 120000;
        QTest::newRow("E 300, top-4") << 4 << 5 << 300 << 6000;
    }

    void vocabularyMatchesPlain()
    {
        QFETCH(int, k);
        QFETCH(int, minCount);
        QFETCH(int, E);
        QFETCH(int, T);
        LayerChoices c = planted(T, E, k, 0.0, 21u + unsigned(k));
        // Some rows name an expert twice (a set counts it once), the first choice too.
        for (int t = 5; k >= 2 && t < T; t += 11)
            c.ids[std::size_t(t) * k + std::size_t(t % k == 0 ? 1 : t % k)] = c.ids[std::size_t(t) * k];
        std::mt19937 rng(3);
        std::vector<std::int64_t> ids(T);
        for (int t = 0; t < T; ++t) {
            ids[std::size_t(t)] = std::int64_t(std::pow(double(rng() % 1000) / 1000.0, 3.0) * 300) - 20;
            if (ids[std::size_t(t)] == 7) // id 7 planted to expert 4 (first choice)
                for (int i = 0; i < k; ++i)
                    c.ids[std::size_t(t) * k + i] = (4 + i) % E;
        }
        const VocabularySpecialisation got = vocabularySpecialisation(c, TokenPositions(ids), minCount);

        // Plain: m[v][e] with maps, over valid tokens only.
        std::map<std::int64_t, std::map<int, long>> m1, mk;
        std::map<std::int64_t, long> n;
        for (int t = 0; t < T; ++t) {
            if (!c.valid[std::size_t(t)])
                continue;
            ++n[ids[std::size_t(t)]];
            ++m1[ids[std::size_t(t)]][c.ids[std::size_t(t) * k]];
            for (int e : setOf(c, t))
                ++mk[ids[std::size_t(t)]][e];
        }
        long count = 0;
        auto plain = [&](std::map<std::int64_t, std::map<int, long>> &m, const SpecialisationFigures &f) {
            double sum = 0;
            count = 0;
            std::vector<double> eSum(E, 0);
            std::vector<long> eN(E, 0);
            for (const auto &[v, nv] : n) {
                if (nv < minCount)
                    continue;
                int best = -1;
                long bestCount = -1;
                for (int e = 0; e < E; ++e)
                    if (m[v][e] > bestCount) {
                        best = e;
                        bestCount = m[v][e];
                    }
                const double s = double(bestCount) / double(nv);
                sum += s;
                ++count;
                eSum[best] += s;
                ++eN[best];
            }
            QVERIFY(std::fabs(f.layer - sum / count) < 1e-12);
            for (int e = 0; e < E; ++e) {
                QCOMPARE(f.expertIds[std::size_t(e)], std::int64_t(eN[e]));
                if (eN[e])
                    QVERIFY(std::fabs(f.perExpert[std::size_t(e)] - eSum[e] / eN[e]) < 1e-12);
                else
                    QVERIFY(std::isnan(f.perExpert[std::size_t(e)]));
            }
        };
        plain(m1, got.top1);
        const long counted = count;
        plain(mk, got.topK);
        QCOMPARE(count, counted);
        QCOMPARE(got.ids, std::int64_t(counted));
        QVERIFY(got.topK.layer >= got.top1.layer);
        // The planted id is fully specialised, so expert 4's mean is above the layer's.
        QVERIFY(got.top1.perExpert[4] > got.top1.layer);
    }

    // Compact choices hold every id in 8 bits up to 256 experts, in 16 up to 65536,
    // and give back the same rows; beyond that, or with gate probabilities, none.
    void compactChoicesGiveBackTheRows()
    {
        for (const int E : {6, 256, 300, 65536}) {
            LayerChoices c = planted(3000, E, 3, 0.1, 5u);
            for (int t = 0; t < 3000; t += 7)
                c.ids[std::size_t(t) * 3 + 2] = E - 1; // the largest id
            const CompactChoices small = compactChoices(c);
            QCOMPARE(small.idBytes, E <= 256 ? 1 : 2);
            QCOMPARE(small.bytes(), std::size_t(3000) * (3 * std::size_t(small.idBytes) + 1));
            const LayerChoices back = widenChoices(small);
            QCOMPARE(back.numExperts, E);
            QCOMPARE(back.topK, 3);
            QVERIFY(std::equal(back.ids.begin(), back.ids.end(), c.ids.begin(), c.ids.end()));
            QVERIFY(std::equal(back.valid.begin(), back.valid.end(), c.valid.begin(), c.valid.end()));
            std::vector<std::int32_t> rows(2 * 3);
            small.widenRows(1001, 2, rows.data());
            QVERIFY(std::equal(rows.begin(), rows.end(), c.ids.begin() + 1001 * 3));
            QCOMPARE(small.id(7, 2), E - 1);
        }
        LayerChoices wide = planted(10, 70000, 2, 0.0, 1u);
        QCOMPARE(compactIdBytes(wide), 0);
        LayerChoices withProbs = planted(10, 8, 2, 0.0, 1u);
        withProbs.gateProbs.assign(20, 0.5f);
        QCOMPARE(compactIdBytes(withProbs), 0);
    }

    void vocabularyTiesGoToTheLowerExpert()
    {
        LayerChoices c;
        c.numExperts = 3;
        c.topK = 1;
        c.ids = {2, 1, 2, 1};
        c.valid = {1, 1, 1, 1};
        const VocabularySpecialisation v = vocabularySpecialisation(c, TokenPositions(std::vector<std::int64_t>(4, 9)), 1);
        QCOMPARE(v.ids, std::int64_t(1));
        QCOMPARE(v.top1.layer, 0.5);
        QCOMPARE(v.top1.expertIds, (std::vector<std::int64_t>{0, 1, 0}));
    }

    void adjacentCoActivationMatchesPlain()
    {
        const int E = 7, k = 4;
        const LayerChoices c = planted(900, E, k, 0.2, 8);
        const std::vector<std::int64_t> got = adjacentCoActivation(c);
        std::vector<long> want(std::size_t(E * E), 0);
        for (std::int64_t t = 0; t < c.numPositions(); ++t) {
            if (!c.valid[std::size_t(t)])
                continue;
            for (int e : setOf(c, t))
                ++want[std::size_t(e * E + e)];
            for (int i = 0; i + 1 < k; ++i) {
                const int a = c.ids[std::size_t(t * k + i)], b = c.ids[std::size_t(t * k + i + 1)];
                ++want[std::size_t(a * E + b)];
                ++want[std::size_t(b * E + a)];
            }
        }
        for (std::size_t i = 0; i < want.size(); ++i)
            QCOMPARE(got[i], std::int64_t(want[i]));
        // Fewer pairs than all pairs, the same diagonal.
        const std::vector<std::int64_t> all = coActivation(c);
        for (int e = 0; e < E; ++e)
            QCOMPARE(got[std::size_t(e * E + e)], all[std::size_t(e * E + e)]);
        ExpertPairCounts counts;
        counts.kind = PairKind::AdjacentCoActivation;
        counts.numExperts = E;
        counts.setCounts(got);
        QCOMPARE(counts.rowTotal(2), all[std::size_t(2 * E + 2)]);
        QVERIFY(std::isnan(counts.share(2, 2)));
        QCOMPARE(counts.uniformShare(k), 2.0 * 3 / 4 / 6);
    }

    void domainSpecialisationIsKTimesTheShare()
    {
        const LayerChoices c = planted(600, 5, 2, 0.1, 4);
        const std::vector<std::int64_t> offsets = {0, 200, 400, 600};
        const std::vector<std::string> labels = {"python", "german", "python"};
        const auto table = domainSpecialisation(labelShares(c, offsets, labels), c.topK);
        QCOMPARE(table.size(), std::size_t(2));
        // Plain: of the label's valid tokens, the share whose set holds e.
        for (const auto &[label, shares] : table)
            for (int e = 0; e < 5; ++e) {
                long tokens = 0, with = 0;
                for (std::size_t s = 0; s < labels.size(); ++s) {
                    if (labels[s] != label)
                        continue;
                    for (std::int64_t t = offsets[s]; t < offsets[s + 1]; ++t)
                        if (c.valid[std::size_t(t)]) {
                            ++tokens;
                            with += setOf(c, t).count(e);
                        }
                }
                QVERIFY(std::fabs(shares[std::size_t(e)] - double(with) / double(tokens)) < 1e-12);
            }
    }
};

QTEST_APPLESS_MAIN(TokenAnalysesTest)
#include "TokenAnalysesTest.moc"
