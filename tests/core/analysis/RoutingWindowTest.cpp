// The routing map's binning (binRoutingWindow): at most one column per token, the
// most frequent expert of each bin (ties to the lower id), the share of a bin that
// chose the highlighted expert, and cancel.
#include "analysis/RoutingWindow.h"

#include <QTest>

using namespace moescope;

namespace {
LayerChoices choices(int experts, int topK, std::vector<std::int32_t> ids, std::vector<std::uint8_t> valid)
{
    LayerChoices c;
    c.numExperts = experts;
    c.topK = topK;
    c.ids.assign(ids.begin(), ids.end());
    c.valid.assign(valid.begin(), valid.end());
    return c;
}
} // namespace

class RoutingWindowTest : public QObject {
    Q_OBJECT
private slots:
    void windowOneColumnPerToken()
    {
        const LayerChoices c = choices(4, 2, {0, 1, 2, 3, 1, 0, 3, 2}, {1, 1, 0, 1});
        const RoutingWindow w = binRoutingWindow({&c}, {0, 4, 100, 0});
        QCOMPARE(w.columns, 4); // never more columns than tokens
        QCOMPARE(w.expertAt(0, 0), 0);
        QCOMPARE(w.expertAt(0, 1), 2);
        QCOMPARE(w.expertAt(0, 2), -1); // invalid token
        QCOMPARE(w.expertAt(0, 3), 3);
        // Highlighting expert 0: only token 0 chose it (token 2, which lists it, is invalid).
        QCOMPARE(int(w.highlightAt(0, 0)), 255);
        QCOMPARE(int(w.highlightAt(0, 1)), 0);
        QCOMPARE(int(w.highlightAt(0, 2)), 0);
        QCOMPARE(int(w.highlightAt(0, 3)), 0);
        const RoutingWindow second = binRoutingWindow({&c}, {0, 4, 100, 1});
        QCOMPARE(int(second.highlightAt(0, 0)), 255); // token 0 chose 1 in slot 1
    }

    void windowBinsTakeTheMostFrequentExpert()
    {
        // 6 tokens, k = 1, in 2 bins of 3: [2, 2, 1] and [0, 3, 3]; ties go to the lower id.
        const LayerChoices c = choices(4, 1, {2, 2, 1, 0, 3, 3}, {1, 1, 1, 1, 1, 1});
        const LayerChoices tie = choices(4, 1, {3, 1, 3, 1, 0, 0}, {1, 1, 1, 1, 1, 1});
        const RoutingWindow w = binRoutingWindow({&c, &tie}, {0, 6, 2, 3});
        QCOMPARE(w.columns, 2);
        QCOMPARE(w.layers, 2);
        QCOMPARE(w.first(1), 3);
        QCOMPARE(w.expertAt(0, 0), 2);
        QCOMPARE(w.expertAt(0, 1), 3);
        QCOMPARE(int(w.highlightAt(0, 1)), 170); // 2 of 3 chose expert 3
        QCOMPARE(w.expertAt(1, 0), 3);           // 3 twice, 1 once
        QCOMPARE(w.expertAt(1, 1), 0);           // 1 once, 0 twice
        const RoutingWindow sub = binRoutingWindow({&tie}, {1, 5, 1, -1});
        QCOMPARE(sub.expertAt(0, 0), 1);         // [1, 3, 1, 0]
        QVERIFY_THROWS_EXCEPTION(std::invalid_argument, binRoutingWindow({&c}, {0, 7, 2, -1}));
    }

    void windowIsCancellable()
    {
        const LayerChoices c = choices(2, 1, {0, 1}, {1, 1});
        std::atomic<bool> cancel{true};
        QVERIFY_THROWS_EXCEPTION(Cancelled, binRoutingWindow({&c}, {0, 2, 2, -1}, Progress({}, &cancel)));
    }
};

QTEST_GUILESS_MAIN(RoutingWindowTest)
#include "RoutingWindowTest.moc"
