// The item models: each passes QAbstractItemModelTester, sorts by numbers (not by
// their text) through a proxy, and the profile's search filter and reverse search
// give what the core statistics say.
#include "DumpSnapshot.h"
#include "Format.h"
#include "support/UiFixture.h"
#include "models/ExpertProfileModel.h"
#include "models/LayerHealthModel.h"
#include "models/TokenRoutingModel.h"
#include "models/WhatIfModel.h"
#include "stats/ExpertProfile.h"

#include <QAbstractItemModelTester>
#include <QSortFilterProxyModel>
#include <QTest>

using namespace moescope;
using namespace moescope::ui;

class ModelsTest : public QObject {
    Q_OBJECT
private slots:
    void initTestCase()
    {
        test::DumpFixture f = test::uiFixture(900, 8, 2, 3);
        f.vocab[3] = " def"; // a word-start space, as BPE vocabularies have
        f.vocab[4] = "def";
        m_dump = std::make_unique<test::TempDump>(f);
        m_snapshot = loadSnapshot(m_dump->qpath());
    }

    void layerHealthModel()
    {
        LayerHealthModel model;
        QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
        model.setSnapshot(m_snapshot);
        QCOMPARE(model.rowCount(), 3);
        QCOMPARE(model.columnCount(), int(LayerHealthModel::ColumnCount));
        const LayerReport &l1 = m_snapshot->analysis.report.layers[1];
        QCOMPARE(model.index(1, LayerHealthModel::CvColumn).data(LayerHealthModel::SortRole).toDouble(), l1.load.cv);
        QCOMPARE(model.index(1, LayerHealthModel::CvColumn).data().toString(), QString::number(l1.load.cv, 'f', 3));
        model.setSnapshot(nullptr);
        QCOMPARE(model.rowCount(), 0);
    }

    void healthSortsWorstFirst()
    {
        LayerHealthModel model;
        model.setSnapshot(m_snapshot);
        QSortFilterProxyModel proxy;
        QAbstractItemModelTester tester(&proxy, QAbstractItemModelTester::FailureReportingMode::QtTest);
        proxy.setSourceModel(&model);
        proxy.setSortRole(LayerHealthModel::SortRole);
        proxy.sort(LayerHealthModel::CvColumn, Qt::DescendingOrder);
        double previous = 1e300;
        for (int r = 0; r < proxy.rowCount(); ++r) {
            const double cv = proxy.index(r, LayerHealthModel::CvColumn).data(LayerHealthModel::SortRole).toDouble();
            QVERIFY(cv <= previous);
            previous = cv;
        }
    }

    void severity_data()
    {
        QTest::addColumn<double>("cv");
        QTest::addColumn<double>("expected");
        QTest::newRow("balanced") << 0.0 << 0.0;
        QTest::newRow("half") << 0.5 << 0.5;
        QTest::newRow("collapsed") << 3.0 << 1.0;
    }

    void severity()
    {
        QFETCH(double, cv);
        QFETCH(double, expected);
        LayerReport l;
        l.load.cv = cv;
        l.load.entropy = 1.0;
        QCOMPARE(LayerHealthModel::severity(l, LayerHealthModel::CvColumn, 2, 0), expected);
        QCOMPARE(LayerHealthModel::severity(l, LayerHealthModel::HealthColumn, 2, 0), expected);
    }

    void profileModelSortsAndFilters()
    {
        ExpertProfileModel model;
        QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
        const ExpertProfile profile = expertProfile(m_snapshot->analysis.pass(0)->choices, m_snapshot->analysis.tokenIds, 2);
        model.setProfile(m_snapshot, 0, profile);
        QCOMPARE(model.rowCount(), int(profile.tokens.size()));
        QVERIFY(model.rowCount() > 5);

        QSortFilterProxyModel proxy;
        QAbstractItemModelTester proxyTester(&proxy, QAbstractItemModelTester::FailureReportingMode::QtTest);
        proxy.setSourceModel(&model);
        proxy.setSortRole(ExpertProfileModel::SortRole);
        proxy.setFilterRole(ExpertProfileModel::SearchRole);
        proxy.setFilterKeyColumn(ExpertProfileModel::TokenColumn);
        proxy.setFilterCaseSensitivity(Qt::CaseInsensitive);
        // Numbers sort as numbers: "10" after "9".
        proxy.sort(ExpertProfileModel::CountColumn, Qt::AscendingOrder);
        for (int r = 1; r < proxy.rowCount(); ++r)
            QVERIFY(proxy.index(r - 1, ExpertProfileModel::CountColumn).data(ExpertProfileModel::SortRole).toLongLong() <=
                    proxy.index(r, ExpertProfileModel::CountColumn).data(ExpertProfileModel::SortRole).toLongLong());
        proxy.sort(ExpertProfileModel::LiftColumn, Qt::DescendingOrder);
        for (int r = 1; r < proxy.rowCount(); ++r)
            QVERIFY(proxy.index(r - 1, ExpertProfileModel::LiftColumn).data(ExpertProfileModel::SortRole).toDouble() >=
                    proxy.index(r, ExpertProfileModel::LiftColumn).data(ExpertProfileModel::SortRole).toDouble());

        proxy.setFilterFixedString(QStringLiteral("tok1"));
        QVERIFY(proxy.rowCount() > 0);
        for (int r = 0; r < proxy.rowCount(); ++r)
            QVERIFY(proxy.index(r, ExpertProfileModel::TokenColumn).data().toString().contains(QStringLiteral("tok1")));
        proxy.setFilterFixedString(QStringLiteral("no such token"));
        QCOMPARE(proxy.rowCount(), 0);
        model.clear();
        QCOMPARE(model.rowCount(), 0);
    }

    void tokenSearchMatchesWhatUsersType_data()
    {
        QTest::addColumn<QString>("query");
        QTest::addColumn<QList<qlonglong>>("ids");
        QTest::newRow("bare word finds both spellings") << "def" << QList<qlonglong>{3, 4};
        QTest::newRow("surrounding spaces ignored") << "  def " << QList<qlonglong>{3, 4};
        QTest::newRow("case-insensitive fallback") << "TOK12" << QList<qlonglong>{12};
        QTest::newRow("unknown") << "zebra" << QList<qlonglong>{};
        QTest::newRow("empty") << "" << QList<qlonglong>{};
    }

    void tokenSearchMatchesWhatUsersType()
    {
        QFETCH(QString, query);
        QFETCH(QList<qlonglong>, ids);
        const auto found = tokenIdsMatching(*m_snapshot, query);
        QCOMPARE(QList<qlonglong>(found.begin(), found.end()), ids);
    }

    void reverseSearchAgreesWithCore()
    {
        const std::vector<std::int64_t> ids = {3, 4};
        const auto routes = routesOfTokens(*m_snapshot, ids);
        std::size_t expected = 0;
        for (std::size_t l = 0; l < 3; ++l)
            for (std::int64_t id : ids) {
                const auto core = routingOfToken(m_snapshot->analysis.pass(l)->choices, m_snapshot->analysis.tokenIds, id);
                expected += core.size();
                for (const TokenShare &s : core) {
                    const auto it = std::find_if(routes.begin(), routes.end(), [&](const TokenRoute &r) {
                        return r.tokenId == id && r.layer == int(l) && r.share.id == s.id;
                    });
                    QVERIFY(it != routes.end());
                    QCOMPARE(it->share.count, s.count);
                    QCOMPARE(it->share.share, s.share);
                    QCOMPARE(it->share.lift, s.lift);
                }
            }
        QCOMPARE(routes.size(), expected);

        TokenRoutingModel model;
        QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
        model.setRoutes(m_snapshot, routes);
        QCOMPARE(model.rowCount(), int(routes.size()));
        QCOMPARE(model.index(0, TokenRoutingModel::ExpertColumn).data(TokenRoutingModel::ExpertRole).toInt(),
                 int(routes[0].share.id));
    }

    // The share and lift the two tables show are core's (ExpertProfile.h), and core's
    // are the definition worked out here from the fixture's choices: share = n[v, e] /
    // occurrences of v, lift = (n[v, e] / c[e]) / (occurrences of v / T).
    void tablesShowTheDefinedShareAndLift()
    {
        const int layer = 1, expert = 4;
        const LayerChoices &c = m_snapshot->analysis.pass(std::size_t(layer))->choices;
        const auto &ids = m_snapshot->analysis.tokenIds;
        // The definition, counted from the choices without core's helpers.
        auto byHand = [&](std::int64_t v, int e) {
            std::int64_t T = 0, occurrences = 0, atExpert = 0, routed = 0;
            for (std::int64_t t = 0; t < c.numPositions(); ++t) {
                if (!c.valid[std::size_t(t)])
                    continue;
                ++T;
                const auto row = c.ids.begin() + t * c.topK;
                const bool chose = std::find(row, row + c.topK, e) != row + c.topK;
                atExpert += chose;
                if (ids[std::size_t(t)] == v) {
                    ++occurrences;
                    routed += chose;
                }
            }
            return std::pair{double(routed) / double(occurrences),
                             (double(routed) / double(atExpert)) / (double(occurrences) / double(T))};
        };

        ExpertProfileModel profileModel;
        const ExpertProfile profile = expertProfile(c, ids, expert);
        profileModel.setProfile(m_snapshot, layer, profile);
        QVERIFY(profileModel.rowCount() > 5);
        for (int r : {0, 1, profileModel.rowCount() / 2, profileModel.rowCount() - 1}) {
            const std::int64_t v = profileModel.index(r, 0).data(ExpertProfileModel::TokenIdRole).toLongLong();
            const auto [share, lift] = byHand(v, expert);
            const TokenShare &core = profile.tokens[std::size_t(r)];
            QCOMPARE(core.id, v);
            QCOMPARE(core.share, share);
            QCOMPARE(core.lift, lift);
            QCOMPARE(profileModel.index(r, ExpertProfileModel::ShareColumn).data(ExpertProfileModel::SortRole).toDouble(),
                     core.share);
            QCOMPARE(profileModel.index(r, ExpertProfileModel::LiftColumn).data(ExpertProfileModel::SortRole).toDouble(),
                     core.lift);
            QCOMPARE(profileModel.index(r, ExpertProfileModel::ShareColumn).data().toString(), formatPercent(share));
            QCOMPARE(profileModel.index(r, ExpertProfileModel::LiftColumn).data().toString(), formatNumber(lift, 2));
        }

        TokenRoutingModel routingModel;
        const std::vector<std::int64_t> wanted = {profile.tokens[0].id, profile.tokens[1].id};
        routingModel.setRoutes(m_snapshot, routesOfTokens(*m_snapshot, wanted));
        int checked = 0;
        for (int r = 0; r < routingModel.rowCount(); ++r) {
            const QModelIndex row = routingModel.index(r, 0);
            if (row.data(TokenRoutingModel::LayerRole).toInt() != layer)
                continue;
            const std::int64_t v = row.data(TokenRoutingModel::TokenIdRole).toLongLong();
            const int e = row.data(TokenRoutingModel::ExpertRole).toInt();
            const auto [share, lift] = byHand(v, e);
            const auto core = routingOfToken(c, ids, v);
            const auto cell = std::find_if(core.begin(), core.end(), [&](const TokenShare &s) { return s.id == e; });
            QVERIFY(cell != core.end());
            QCOMPARE(cell->share, share);
            QCOMPARE(cell->lift, lift);
            QCOMPARE(routingModel.index(r, TokenRoutingModel::ShareColumn).data(TokenRoutingModel::SortRole).toDouble(),
                     cell->share);
            QCOMPARE(routingModel.index(r, TokenRoutingModel::LiftColumn).data(TokenRoutingModel::SortRole).toDouble(),
                     cell->lift);
            QCOMPARE(routingModel.index(r, TokenRoutingModel::ShareColumn).data().toString(), formatPercent(share));
            QCOMPARE(routingModel.index(r, TokenRoutingModel::LiftColumn).data().toString(), formatNumber(lift, 2));
            ++checked;
        }
        QVERIFY(checked >= 2); // both ids reach at least the expert of this profile
    }

    void whatIfModel()
    {
        WhatIfModel model;
        QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
        std::vector<WhatIfRow> rows;
        for (int l = 0; l < 3; ++l)
            rows.push_back({l, m_snapshot->analysis.report.layers[std::size_t(l)],
                            m_snapshot->analysis.report.layers[std::size_t(l)], {}, {}, {}});
        model.setRows(m_snapshot, rows);
        QCOMPARE(model.rowCount(), 3);
        QCOMPARE(model.index(2, WhatIfModel::LayerColumn).data(WhatIfModel::LayerRole).toInt(), 2);
        model.clear();
        QCOMPARE(model.rowCount(), 0);
    }

private:
    std::unique_ptr<test::TempDump> m_dump;
    DumpSnapshotPtr m_snapshot;
};

QTEST_MAIN(ModelsTest)
#include "ModelsTest.moc"
