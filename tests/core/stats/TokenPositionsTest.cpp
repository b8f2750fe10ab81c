// The token-position index against a plain scan over every position: every id that
// occurs, ids that do not, the first and last positions, dense and sparse id ranges.
#include "stats/TokenPositions.h"
#include "support/DumpFixture.h"

#include <QtTest>

#include <limits>
#include <random>
#include <set>

using namespace moescope;

namespace {
std::vector<std::int64_t> scan(const std::vector<std::int64_t> &ids, std::int64_t id)
{
    std::vector<std::int64_t> positions;
    for (std::size_t t = 0; t < ids.size(); ++t)
        if (ids[t] == id)
            positions.push_back(std::int64_t(t));
    return positions;
}

std::vector<std::int64_t> asVector(std::span<const std::int64_t> span)
{
    return {span.begin(), span.end()};
}
} // namespace

class TokenPositionsTest : public QObject {
    Q_OBJECT
private slots:
    void matchesScan_data()
    {
        QTest::addColumn<std::vector<std::int64_t>>("ids");
        // The fixture the UI tests load: ids drawn from its vocabulary.
        QTest::newRow("fixture dump") << test::randomFixture(600, 8, 2, 3, 7).tokenIds;
        std::mt19937 rng(11);
        std::vector<std::int64_t> sparse;
        const std::int64_t far = std::numeric_limits<std::int64_t>::max();
        for (int t = 0; t < 500; ++t) {
            const std::int64_t choices[] = {
                -5, -1, 0, 3, 1'000'000'007, far, std::numeric_limits<std::int64_t>::min()};
            sparse.push_back(choices[rng() % 7]);
        }
        QTest::newRow("negative and huge ids, sorted path") << sparse;
        std::vector<std::int64_t> wide = {2'000'000, 4, 4, 2'000'000, 9};
        QTest::newRow("few tokens, ids beyond the dense range") << wide;
        QTest::newRow("one id everywhere") << std::vector<std::int64_t>(50, 17);
        QTest::newRow("single token") << std::vector<std::int64_t>{42};
        QTest::newRow("empty dump") << std::vector<std::int64_t>{};
    }

    void matchesScan()
    {
        QFETCH(std::vector<std::int64_t>, ids);
        const TokenPositions index(ids);
        QCOMPARE(index.numPositions(), std::int64_t(ids.size()));
        const std::set<std::int64_t> distinct(ids.begin(), ids.end());
        QCOMPARE(index.distinctIds(), distinct.size());
        std::int64_t total = 0;
        for (const std::int64_t id : distinct) {
            const std::vector<std::int64_t> expected = scan(ids, id);
            QCOMPARE(asVector(index.of(id)), expected);
            total += std::int64_t(expected.size());
        }
        QCOMPARE(total, std::int64_t(ids.size())); // every position belongs to exactly one id
        if (!ids.empty()) {
            // The first and last positions are found under their own ids.
            const auto first = index.of(ids.front());
            QCOMPARE(first.front(), std::int64_t(0));
            const auto last = index.of(ids.back());
            QCOMPARE(last.back(), std::int64_t(ids.size()) - 1);
        }
        // Ids that never occur: just outside the range, in gaps, at the extremes.
        std::vector<std::int64_t> absent = {-2, 1, 5, 99, 123456};
        if (!distinct.empty()) {
            if (*distinct.begin() > std::numeric_limits<std::int64_t>::min())
                absent.push_back(*distinct.begin() - 1);
            if (*distinct.rbegin() < std::numeric_limits<std::int64_t>::max())
                absent.push_back(*distinct.rbegin() + 1);
        }
        for (const std::int64_t id : absent)
            if (!distinct.count(id))
                QVERIFY2(index.of(id).empty(), qPrintable(QStringLiteral("id %1").arg(id)));
    }

    void defaultIndexIsEmpty()
    {
        const TokenPositions index;
        QVERIFY(index.of(0).empty());
        QCOMPARE(index.distinctIds(), std::size_t(0));
    }
};

QTEST_APPLESS_MAIN(TokenPositionsTest)
#include "TokenPositionsTest.moc"
