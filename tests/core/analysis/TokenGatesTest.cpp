// The gate weights of one token (tokenGates): recorded, derived from the logits for
// recorded choices, or routed from the logits as RowRouter routes them.
#include "analysis/TokenGates.h"
#include "routing/RowRouter.h"
#include "support/UiFixture.h"

#include <QTest>

#include <cmath>

using namespace moescope;

class TokenGatesTest : public QObject {
    Q_OBJECT
private slots:
    void gatesFromRecordedWeights()
    {
        test::DumpFixture f = test::uiFixture(40, 4, 2, 1, false);
        auto &layer = f.layers[0];
        for (int t = 0; t < 40; ++t) {
            layer.topkIds.push_back(t % 4);
            layer.topkIds.push_back((t + 1) % 4);
            layer.topkWeights.push_back(0.75f);
            layer.topkWeights.push_back(0.25f);
        }
        test::TempDump file(f);
        const RoutingDump dump(file.path());
        const TokenGates g = tokenGates(dump, 0, 6);
        QVERIFY(g.recorded && g.weightsRecorded);
        QCOMPARE(g.experts, (std::vector<std::int32_t>{2, 3}));
        QCOMPARE(g.weights, (std::vector<float>{0.75f, 0.25f}));
    }

    void gatesOfRecordedChoicesFromLogits()
    {
        test::DumpFixture f = test::uiFixture(40, 4, 2, 1, false);
        for (int t = 0; t < 40; ++t) {
            f.layers[0].topkIds.push_back(3);
            f.layers[0].topkIds.push_back(0);
        }
        test::TempDump file(f);
        const RoutingDump dump(file.path());
        const TokenGates g = tokenGates(dump, 0, 5);
        QVERIFY(g.recorded && !g.weightsRecorded);
        QCOMPARE(g.experts, (std::vector<std::int32_t>{3, 0}));
        // softmax over the row, renormalised over the two recorded experts
        const float *z = f.layers[0].logits.data() + 5 * 4;
        const double p3 = std::exp(double(z[3])), p0 = std::exp(double(z[0]));
        QVERIFY(std::abs(g.weights[0] - p3 / (p3 + p0)) < 1e-5);
        QVERIFY(std::abs(g.weights[0] + g.weights[1] - 1.0) < 1e-5);
    }

    void gatesRoutedFromLogits()
    {
        const test::DumpFixture f = test::uiFixture(40, 4, 2, 1, false);
        test::TempDump file(f);
        const RoutingDump dump(file.path());
        const TokenGates g = tokenGates(dump, 0, 9);
        QVERIFY(!g.recorded);
        std::int32_t ids[2];
        float weights[2];
        RowScratch scratch;
        QVERIFY(routeRow(f.layers[0].logits.data() + 9 * 4, 4, dump.info().routingRules(0), {ids, weights, nullptr}, scratch));
        QCOMPARE(g.experts, (std::vector<std::int32_t>{ids[0], ids[1]}));
        QCOMPARE(g.weights, (std::vector<float>{weights[0], weights[1]}));
        QVERIFY_THROWS_EXCEPTION(std::out_of_range, tokenGates(dump, 0, 40));
    }
};

QTEST_GUILESS_MAIN(TokenGatesTest)
#include "TokenGatesTest.moc"
