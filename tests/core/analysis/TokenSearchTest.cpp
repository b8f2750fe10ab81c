// The reverse search from the tokens' positions (routingOfTokensAt, and over a whole
// dump routingOfTokensAtEveryLayer) against a plain scan written here: every valid
// token of the layer looked at, its id compared, its row's distinct experts counted,
// c[e] and T counted from the same rows. Random choices with repeated experts in a
// row, invalid rows, negative ids, an id given twice and one that never occurs; over
// a dump, layers in memory and layers read back from the file (stored whole or in
// small deflated chunks), recorded or routed from logits with NaN rows.
#include "analysis/TokenSearch.h"
#include "support/TempDump.h"
#include "support/UiFixture.h"

#include <QtTest>

#include <cmath>
#include <random>
#include <set>

using namespace moescope;

namespace {
using Answers = std::vector<std::vector<TokenShare>>;

// The definition, one token at a time (ExpertProfile.h, analyses.md).
Answers plainAnswers(const LayerChoices &c, const std::vector<std::int64_t> &tokenIds,
                     const std::vector<std::int64_t> &wanted)
{
    const std::size_t k = std::size_t(c.topK);
    std::int64_t T = 0;
    std::vector<std::int64_t> load(std::size_t(c.numExperts), 0);
    for (std::int64_t t = 0; t < c.numPositions(); ++t) {
        if (!c.valid[std::size_t(t)])
            continue;
        ++T;
        const std::set<std::int32_t> experts(c.ids.begin() + std::ptrdiff_t(t * std::int64_t(k)),
                                             c.ids.begin() + std::ptrdiff_t((t + 1) * std::int64_t(k)));
        for (std::int32_t e : experts)
            ++load[std::size_t(e)];
    }
    Answers answers(wanted.size());
    for (std::size_t i = 0; i < wanted.size(); ++i) {
        if (std::find(wanted.begin(), wanted.begin() + std::ptrdiff_t(i), wanted[i]) != wanted.begin() + std::ptrdiff_t(i))
            continue; // asked before: answered there
        std::int64_t occurrences = 0;
        std::vector<std::int64_t> routed(std::size_t(c.numExperts), 0);
        for (std::int64_t t = 0; t < c.numPositions(); ++t) {
            if (!c.valid[std::size_t(t)] || tokenIds[std::size_t(t)] != wanted[i])
                continue;
            ++occurrences;
            const std::set<std::int32_t> experts(c.ids.begin() + std::ptrdiff_t(t * std::int64_t(k)),
                                                 c.ids.begin() + std::ptrdiff_t((t + 1) * std::int64_t(k)));
            for (std::int32_t e : experts)
                ++routed[std::size_t(e)];
        }
        for (int e = 0; e < c.numExperts; ++e) {
            const double n = double(routed[std::size_t(e)]);
            if (n == 0)
                continue;
            const double share = n / double(occurrences);
            const double lift = (n / double(load[std::size_t(e)])) / (double(occurrences) / double(T));
            answers[i].push_back({e, std::int64_t(n), share, lift});
        }
    }
    return answers;
}

bool sameAnswers(const Answers &got, const Answers &expected)
{
    if (got.size() != expected.size())
        return false;
    for (std::size_t i = 0; i < got.size(); ++i) {
        if (got[i].size() != expected[i].size())
            return false;
        for (std::size_t j = 0; j < got[i].size(); ++j) {
            const TokenShare &a = got[i][j], &b = expected[i][j];
            if (a.id != b.id || a.count != b.count || !qFuzzyCompare(a.share, b.share) ||
                !qFuzzyCompare(a.lift, b.lift))
                return false;
        }
    }
    return true;
}

std::size_t routesIn(const Answers &a)
{
    std::size_t n = 0;
    for (const auto &one : a)
        n += one.size();
    return n;
}

// Random choices: k ids in [0, E), sometimes one repeated within a row.
LayerChoices randomChoices(std::mt19937 &rng, std::int64_t T, int E, int k, double invalidShare)
{
    LayerChoices c;
    c.numExperts = E;
    c.topK = k;
    c.ids.resize(std::size_t(T * k));
    c.valid.resize(std::size_t(T));
    std::uniform_real_distribution<double> unit(0, 1);
    for (std::int64_t t = 0; t < T; ++t) {
        for (int j = 0; j < k; ++j)
            c.ids[std::size_t(t * k + j)] = std::int32_t(rng() % unsigned(E));
        c.valid[std::size_t(t)] = unit(rng) < invalidShare ? 0 : 1;
    }
    return c;
}
} // namespace

class TokenSearchTest : public QObject {
    Q_OBJECT
private slots:
    void gatherAgreesWithPlainScan()
    {
        std::mt19937 rng(5);
        const std::int64_t T = 3000;
        std::vector<std::int64_t> ids;
        for (std::int64_t t = 0; t < T; ++t) // mostly a few frequent ids, some negative ones
            ids.push_back(t % 7 == 0 ? -std::int64_t(rng() % 3) - 1 : std::int64_t(rng() % 50) * (rng() % 4 ? 1 : 9));
        ids[T - 1] = 123456; // one occurrence, at the last position
        const TokenPositions positions(ids);
        const std::vector<std::int64_t> wanted = {0, -2, 999, 0, 123456, 9, -1};
        for (const double invalid : {0.0, 0.2}) {
            const LayerChoices c = randomChoices(rng, T, 16, 4, invalid);
            const Answers expected = plainAnswers(c, ids, wanted);
            QVERIFY(routesIn(expected) > 16);
            QVERIFY(expected[2].empty() && expected[3].empty()); // absent; repeated
            const Answers got = routingOfTokensAt(c, positions, wanted, c.counts(), c.validTokens());
            QVERIFY(sameAnswers(got, expected));
            QVERIFY(sameAnswers(routingOfTokens(c, ids, wanted), expected)); // the scan it replaces
        }
        LayerChoices none; // a load-only layer: no rows, nothing to say
        none.numExperts = 16;
        none.topK = 4;
        QCOMPARE(routesIn(routingOfTokensAt(none, positions, wanted, std::vector<std::int64_t>(16, 5), T)),
                 std::size_t(0));
    }

    void everyLayerAgreesWithPlainScan_data()
    {
        QTest::addColumn<bool>("chunked");
        QTest::addColumn<bool>("allInMemory");
        QTest::addColumn<unsigned>("threads");
        QTest::newRow("contiguous, in memory") << false << true << 0u;
        QTest::newRow("contiguous, read back") << false << false << 0u;
        QTest::newRow("deflated 7-row chunks, in memory") << true << true << 3u;
        QTest::newRow("deflated 7-row chunks, read back") << true << false << 3u;
        QTest::newRow("deflated 7-row chunks, read back, one thread") << true << false << 1u;
    }

    void everyLayerAgreesWithPlainScan()
    {
        QFETCH(bool, chunked);
        QFETCH(bool, allInMemory);
        QFETCH(unsigned, threads);
        const int T = 500, E = 8, k = 2;
        test::DumpFixture f = test::uiFixture(T, E, k, 4);
        std::mt19937 rng(17);
        // Layer 0: logits only, some rows NaN (invalid); 1: recorded choices only, an
        // expert sometimes repeated in a row; 2: logits and recorded choices; 3: load only.
        for (int t = 0; t < T; t += 13)
            f.layers[0].logits[std::size_t(t) * E + 1] = std::nanf("");
        for (std::size_t l = 1; l < 3; ++l)
            for (int t = 0; t < T; ++t) {
                const int a = int(rng() % E);
                f.layers[l].topkIds.push_back(a);
                f.layers[l].topkIds.push_back(t % 11 == 0 && l == 1 ? a : (a + 1 + int(rng() % (E - 1))) % E);
            }
        f.layers[1].logits.clear();
        f.layers[3].logits.clear();
        f.layers[3].counts = {100, 200, 100, 150, 150, 100, 100, 100};
        f.vocab.clear(); // without one, any id may be recorded, negative ones too
        for (int t = 5; t < T; t += 37)
            f.tokenIds[std::size_t(t)] = -7;
        f.tokenIds[T - 1] = 38;              // a rare id at the very end
        for (std::int64_t &id : f.tokenIds)
            if (id == 38 && &id != &f.tokenIds[T - 1])
                id = 37;
        test::StorageOptions storage;
        storage.deflate = chunked;
        test::TempDump file(f, storage);
        const auto dump = std::make_shared<const RoutingDump>(file.path());
        const DumpAnalysis all = analyzeDump(dump, {});
        const std::size_t oneLayer = LayerStore::passBytes(dump->info().layers[0], T, k);
        const DumpAnalysis some = analyzeDump(dump, {}, {}, {}, oneLayer + oneLayer / 2);
        const DumpAnalysis &a = allInMemory ? all : some;
        QCOMPARE(a.layers->allResident(), allInMemory);

        const TokenPositions positions(a.tokenIds);
        const std::vector<std::int64_t> wanted = {a.tokenIds[0], -7, 38, 4242, a.tokenIds[0], a.tokenIds[1]};
        std::vector<bool> resident(4);
        for (std::size_t l = 0; l < 4; ++l)
            resident[l] = a.layers->resident(l) != nullptr;
        const auto got = routingOfTokensAtEveryLayer(a, positions, wanted, {}, threads);
        QCOMPARE(got.size(), std::size_t(4));
        std::size_t total = 0;
        for (std::size_t l = 0; l < 4; ++l) {
            const Answers expected = plainAnswers(all.pass(l)->choices, all.tokenIds, wanted);
            QVERIFY2(sameAnswers(got[l], expected), qPrintable(QStringLiteral("layer %1").arg(l)));
            total += routesIn(expected);
            if (l == 3)
                QCOMPARE(routesIn(got[l]), std::size_t(0)); // load only
            else
                QVERIFY(!expected[1].empty() && !expected[2].empty()); // the negative and the rare id
            QVERIFY(expected[3].empty() && expected[4].empty());
        }
        QVERIFY(total > 20);
        // Recorded layers read back are not kept: a search leaves the store as it was.
        for (std::size_t l : {1, 2})
            if (!resident[l])
                QVERIFY(!a.layers->resident(l));
        // Layer 0's invalid rows are left out: the plain count must have seen them.
        QVERIFY(all.pass(0)->choices.validTokens() < T);
    }

    // The rows handed out are those of the positions asked for, band by band, whether
    // from memory or read back in stretches of chunks.
    void rowsAtAreThePassesRows()
    {
        const int T = 500;
        test::DumpFixture f = test::uiFixture(T, 8, 2, 2);
        std::mt19937 rng(3);
        for (int t = 0; t < T; ++t) {
            f.layers[1].topkIds.push_back(int(rng() % 8));
            f.layers[1].topkIds.push_back(int(rng() % 8));
        }
        test::StorageOptions storage;
        storage.deflate = true;
        test::TempDump file(f, storage);
        const auto dump = std::make_shared<const RoutingDump>(file.path());
        const DumpAnalysis all = analyzeDump(dump, {});
        const DumpAnalysis none = analyzeDump(dump, {}, {}, {}, 1);
        const LayerChoices &whole = all.pass(1)->choices;
        const std::vector<std::int64_t> positions = {0, 1, 6, 7, 13, 14, 15, 100, 101, 300, 499};
        for (const DumpAnalysis *a : {&all, &none}) {
            std::vector<int> seen(positions.size(), 0);
            a->layers->rowsAt(1, positions, [&](std::size_t first, std::size_t n, const std::int32_t *ids,
                                                const std::uint8_t *valid) {
                for (std::size_t j = 0; j < n; ++j) {
                    const std::size_t t = std::size_t(positions[first + j]);
                    ++seen[first + j];
                    QCOMPARE(ids[2 * j], whole.ids[2 * t]);
                    QCOMPARE(ids[2 * j + 1], whole.ids[2 * t + 1]);
                    QCOMPARE(valid[j], whole.valid[t]);
                }
            });
            QVERIFY(std::all_of(seen.begin(), seen.end(), [](int s) { return s == 1; }));
        }
        QVERIFY(!none.layers->resident(1));
        const std::vector<std::int64_t> beyond = {3, T};
        QVERIFY_THROWS_EXCEPTION(std::out_of_range,
                                 none.layers->rowsAt(1, beyond, [](std::size_t, std::size_t, const std::int32_t *,
                                                                   const std::uint8_t *) {}));
    }

    void searchIsCancellable()
    {
        test::TempDump file(test::uiFixture(300, 8, 2, 3));
        const auto dump = std::make_shared<const RoutingDump>(file.path());
        const DumpAnalysis a = analyzeDump(dump, {});
        std::atomic<bool> cancel{true};
        QVERIFY_THROWS_EXCEPTION(Cancelled, routingOfTokensAtEveryLayer(a, TokenPositions(a.tokenIds), {a.tokenIds[0]},
                                                                         Progress({}, &cancel)));
    }
};

QTEST_GUILESS_MAIN(TokenSearchTest)
#include "TokenSearchTest.moc"
