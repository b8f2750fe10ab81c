// The what-if panel in the window: it re-routes and cancels, remembers the user's
// settings, gives the GPU's counts equal to the CPU's, and shows the balancing replay
// and expert choice as core computes them.
#include "Format.h"
#include "JobSlot.h"
#include "MainWindow.h"
#include "support/WindowTestSupport.h"
#include "analysis/BalanceReplay.h"
#include "analysis/ExpertChoiceReplay.h"
#include "io/OpenDump.h"
#include "models/WhatIfModel.h"
#include "routing/BackendFactory.h"
#include "support/UiFixture.h"
#include "views/WhatIfView.h"

#include <QSettings>
#include <QSignalSpy>
#include <QTest>

using namespace moescope;
using namespace moescope::ui;

class WhatIfViewTest : public QObject {
    Q_OBJECT

private slots:
    void initTestCase()
    {
        test::isolateSettings(m_settings);
        m_dump = std::make_unique<test::TempDump>(test::uiFixture(600, 8, 2, 3));
    }

    void whatIfRunsAndCancels()
    {
        MainWindow window;
        QVERIFY(test::showDump(window, m_dump->qpath()));
        WhatIfView *whatIf = window.whatIf();
        WhatIfSettings s = whatIf->settings();
        s.topK = 1;
        s.capacityFactor = 1.0;
        s.device = Device::Cpu;
        whatIf->setSettings(s);
        QSignalSpy finished(whatIf, &WhatIfView::finished);
        whatIf->run();
        QVERIFY(finished.wait(15000));
        QCOMPARE(whatIf->model()->rowCount(), 3);
        for (const WhatIfRow &row : whatIf->model()->rows()) {
            QCOMPARE(row.after.counts.size(), std::size_t(8));
            QVERIFY(row.after.agreement.has_value() == false || *row.after.agreement >= 0.0);
        }
        // Cancel: no result arrives, the slot is idle again.
        finished.clear();
        QSignalSpy cancelled(whatIf->job(), &JobSlot::cancelled);
        whatIf->run();
        QVERIFY(!whatIf->job()->findChildren<QFutureWatcherBase *>().isEmpty()); // the run is out
        whatIf->job()->cancel();
        QVERIFY(!whatIf->job()->isBusy());
        QCOMPARE(cancelled.count(), 1);
        QVERIFY(test::jobsComeBack(whatIf->job()));
        QCOMPARE(finished.count(), 0);
        // A new dump stops a run without calling it cancelled.
        whatIf->run();
        whatIf->setSnapshot(window.snapshot());
        QVERIFY(!whatIf->job()->isBusy());
        QCOMPARE(cancelled.count(), 1);
    }

    // The device, drop policy and balancing replay of the last run come back in a new
    // window; scoring, k and the capacity factor are the new dump's own.
    void whatIfRemembersTheUsersSettings()
    {
        {
            MainWindow window;
            QVERIFY(test::showDump(window, m_dump->qpath()));
            WhatIfSettings s = window.whatIf()->settings();
            s.policy = DropPolicy::ScorePriority;
            s.group = CapacityGroup::Sequence;
            s.balanceRate = 0.002;
            s.balanceBatchTokens = 128;
            s.topK = 1;
            window.whatIf()->setSettings(s);
            QSignalSpy finished(window.whatIf(), &WhatIfView::finished);
            window.whatIf()->run();
            QVERIFY(finished.wait(15000));
        }
        MainWindow again;
        QVERIFY(test::showDump(again, m_dump->qpath()));
        const WhatIfSettings s = again.whatIf()->settings();
        QCOMPARE(s.policy, DropPolicy::ScorePriority);
        QCOMPARE(s.group, CapacityGroup::Sequence);
        QCOMPARE(s.balanceRate, 0.002);
        QCOMPARE(s.balanceBatchTokens, 128);
        QCOMPARE(s.topK, 2); // the dump's k, not the last run's
        QSettings().remove(QStringLiteral("whatIf")); // the other tests start from the defaults
    }

    // The what-if panel on the GPU backend (PoCL in CI) shows the counts the CPU shows.
    void whatIfOnGpuMatchesCpu()
    {
        MainWindow window;
        QVERIFY(test::showDump(window, m_dump->qpath()));
        WhatIfView *whatIf = window.whatIf();
        QSignalSpy finished(whatIf, &WhatIfView::finished);
        std::vector<std::vector<std::int64_t>> counts[2];
        for (int run = 0; run < 2; ++run) {
            WhatIfSettings s = whatIf->settings();
            s.topK = 2;
            s.device = run == 0 ? Device::Cpu : Device::Gpu;
            whatIf->setSettings(s);
            whatIf->run();
            QVERIFY(finished.wait(30000));
            for (const WhatIfRow &row : whatIf->model()->rows())
                counts[run].push_back(row.after.counts);
        }
        QCOMPARE(counts[1].size(), std::size_t(3));
        QCOMPARE(counts[1], counts[0]);
    }

    void whatIfReplaysBiasBalancing()
    {
        MainWindow window;
        QVERIFY(test::showDump(window, m_dump->qpath()));
        WhatIfView *whatIf = window.whatIf();
        WhatIfSettings s = whatIf->settings();
        s.device = Device::Cpu;
        s.balanceRate = 0.01;
        s.balanceBatchTokens = 50;
        whatIf->setSettings(s);
        QCOMPARE(whatIf->settings().balanceRate, 0.01);
        QSignalSpy finished(whatIf, &WhatIfView::finished);
        whatIf->run();
        QVERIFY(finished.wait(15000));
        const RoutingDump dump(m_dump->path());
        for (const WhatIfRow &row : whatIf->model()->rows()) {
            QVERIFY(row.maxVioWithoutBias && row.maxVioWithBias);
            // The same replay straight from core gives the numbers the table shows.
            RoutingRules rules = dump.info().routingRules(std::size_t(row.layer));
            auto backend = makeCpuBackend();
            const BalanceResult b = replayBalance(dump, std::size_t(row.layer), *backend, rules, 0.01, 50);
            QCOMPARE(*row.maxVioWithBias, meanOfLastBatches(b.maxVioWith, 0.5));
            QCOMPARE(*row.maxVioWithoutBias, meanOfLastBatches(b.maxVioWithout, 0.5));
            const QModelIndex cell = whatIf->model()->index(0, WhatIfModel::MaxVioWithBiasColumn);
            QVERIFY(cell.data().toString() != QStringLiteral("-"));
        }
        // Off again: no replay columns.
        s.balanceRate = 0;
        whatIf->setSettings(s);
        whatIf->run();
        QVERIFY(finished.wait(15000));
        QVERIFY(!whatIf->model()->rows().front().maxVioWithBias);
    }

    // Expert choice in the window: the panel's share of tokens no expert takes is the
    // one core's replay gives for the same rules.
    void whatIfRoutesByExpertChoice()
    {
        MainWindow window;
        QVERIFY(test::showDump(window, m_dump->qpath()));
        WhatIfView *whatIf = window.whatIf();
        WhatIfSettings s = whatIf->settings();
        s.device = Device::Cpu;
        s.balanceRate = 0;
        s.expertChoice = true;
        s.capacityFactor = 1.0;
        whatIf->setSettings(s);
        QSignalSpy finished(whatIf, &WhatIfView::finished);
        whatIf->run();
        QVERIFY(finished.wait(15000));
        const auto dump = openDump(m_dump->path());
        QCOMPARE(whatIf->model()->rowCount(), int(dump->info().layers.size()));
        for (const WhatIfRow &row : whatIf->model()->rows()) {
            QVERIFY(row.expertChoiceUnrouted.has_value());
            RoutingRules rules = dump->info().routingRules(std::size_t(row.layer));
            rules.scoring = s.scoring;
            rules.topK = s.topK;
            LayerPassRequest routed;
            routed.reroute = rules;
            const LayerPass pass = runLayerPass(*dump, std::size_t(row.layer), routed);
            const ExpertChoiceResult r =
                replayExpertChoice(*dump, std::size_t(row.layer), pass.choices, rules, 1.0, s.group);
            QCOMPARE(*row.expertChoiceUnrouted, r.unroutedFraction());
        }
        const QModelIndex cell = whatIf->model()->index(0, WhatIfModel::ExpertChoiceUnroutedColumn);
        QCOMPARE(cell.data().toString(), formatPercent(*whatIf->model()->rows().front().expertChoiceUnrouted, 2));
    }

private:
    QTemporaryDir m_settings;
    std::unique_ptr<test::TempDump> m_dump;
};

QTEST_MAIN(WhatIfViewTest)
#include "WhatIfViewTest.moc"
