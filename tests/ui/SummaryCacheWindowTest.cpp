// The window and the summary cache: a dump analysed once is kept there; opened again,
// its title and whole overview come from the cache at once (one redraw), before the
// dump itself is opened, and the same reports as the full analysis; with the setting
// off nothing is kept.
#include "DumpLoader.h"
#include "MainWindow.h"
#include "support/UiFixture.h"
#include "support/WindowTestSupport.h"

#include <QDir>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTest>

#include <memory>

using namespace moescope;
using namespace moescope::ui;

class SummaryCacheWindowTest : public QObject {
    Q_OBJECT

private slots:
    void initTestCase()
    {
        test::isolateSettings(m_settings);
        m_dump = std::make_unique<test::TempDump>(test::uiFixture(600, 8, 2, 3));
        m_other = std::make_unique<test::TempDump>(test::uiFixture(300, 4, 1, 2, false), test::StorageOptions{}, "other.h5");
    }

    // The window keeps each dump's overview in the summary cache; opened again, the
    // overview comes from there (the same reports as the full analysis), and with the
    // setting off nothing is kept.
    void overviewComesFromTheSummaryCache()
    {
        QTemporaryDir cacheDir;
        qputenv("MOESCOPE_CACHE_DIR", cacheDir.path().toUtf8());
        auto entries = [&] { return QDir(cacheDir.path()).entryList({"*.summary"}).size(); };
        {
            MainWindow window;
            window.loader()->setUseCache(true);
            QVERIFY(test::showDump(window, m_dump->qpath()));
        }
        QCOMPARE(entries(), 1);
        MainWindow again;
        QVERIFY(again.loader()->usesCache()); // remembered
        QSignalSpy partials(again.loader(), &DumpLoader::layerAnalysed);
        QVERIFY(test::showDump(again, m_dump->qpath()));
        QCOMPARE(entries(), 1);
        const DumpSnapshotPtr full = again.snapshot();
        QCOMPARE(partials.count(), 1); // every layer at once: one redraw of the overview
        QCOMPARE(partials.last().at(1).toInt(), full->numLayers());
        const auto last = partials.last().at(0).value<DumpSnapshotPtr>();
        for (int l = 0; l < full->numLayers(); ++l) {
            QCOMPARE(last->analysis.report.layers[std::size_t(l)].counts, full->analysis.report.layers[std::size_t(l)].counts);
            QCOMPARE(last->analysis.report.layers[std::size_t(l)].drops.dropped,
                     full->analysis.report.layers[std::size_t(l)].drops.dropped);
        }
        // The cached overview comes before the dump is opened: with no preflight helper
        // to open it, the whole overview still arrives, then the open fails.
        {
            MainWindow third;
            QSignalSpy early(third.loader(), &DumpLoader::layerAnalysed);
            QSignalSpy opened(third.loader(), &DumpLoader::opened);
            QSignalSpy failed(third.loader(), &DumpLoader::failed);
            qputenv("MOESCOPE_PREFLIGHT_PROGRAM", QByteArray("/nonexistent/moescope-preflight"));
            third.openFile(m_dump->qpath());
            QVERIFY(failed.wait(20000));
            qunsetenv("MOESCOPE_PREFLIGHT_PROGRAM");
            QCOMPARE(early.count(), 1);
            QCOMPARE(early.first().at(1).toInt(), full->numLayers());
            QCOMPARE(opened.count(), 1); // the title, from the cached info
            QCOMPARE(opened.first().at(1).value<DumpInfo>().numTokens, full->info().numTokens);
            const auto cachedOverview = early.first().at(0).value<DumpSnapshotPtr>();
            QCOMPARE(cachedOverview->analysis.report.layers.back().counts, full->analysis.report.layers.back().counts);
            QCOMPARE(cachedOverview->info().layers.size(), full->info().layers.size());
        }
        again.loader()->setUseCache(false);
        QVERIFY(test::showDump(again, m_other->qpath()));
        QCOMPARE(entries(), 1);
        again.loader()->setUseCache(true);
        qunsetenv("MOESCOPE_CACHE_DIR");
    }

private:
    QTemporaryDir m_settings;
    std::unique_ptr<test::TempDump> m_dump, m_other;
};

QTEST_MAIN(SummaryCacheWindowTest)
#include "SummaryCacheWindowTest.moc"
