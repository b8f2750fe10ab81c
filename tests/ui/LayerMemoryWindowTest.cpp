// The window and its layer memory: a dump whose layers do not all fit the budget as
// passes but do compact is, once shown, read into memory compact in the background
// (LayerStore::keepCompact), so the token search and the views need not read it again;
// a dump that does not fit even compact keeps what fits and drops nothing for it.
#include "DumpLoader.h"
#include "MainWindow.h"
#include "analysis/LayerStore.h"
#include "support/UiFixture.h"
#include "support/WindowTestSupport.h"

#include <QTemporaryDir>
#include <QTest>

#include <memory>

using namespace moescope;
using namespace moescope::ui;

class LayerMemoryWindowTest : public QObject {
    Q_OBJECT

    static int layersInMemory(const DumpSnapshotPtr &s)
    {
        int n = 0;
        for (std::size_t l = 0; l < s->info().layers.size(); ++l)
            n += s->analysis.layers->inMemory(l);
        return n;
    }

private slots:
    void initTestCase()
    {
        test::isolateSettings(m_settings);
        qputenv("MOESCOPE_CACHE_DIR", m_cache.path().toUtf8());
        qputenv("MOESCOPE_LAYER_MEMORY_MB", "2");
        // 60,000 tokens, top-2: 540 KB a layer as a pass, 180 KB compact; in 2 MiB the
        // five layers fit compact whatever the views widen (three passes and two compact
        // at most), so none is ever dropped. Sequences of 6,000 tokens, so the routing
        // map reads its window alone, keeping nothing.
        test::DumpFixture fits = test::uiFixture(60000, 8, 2, 5);
        fits.sequenceOffsets.clear();
        fits.sequenceLabels.clear();
        for (int s = 0; s < 10; ++s) {
            fits.sequenceOffsets.push_back(s * 6000);
            fits.sequenceLabels.push_back(s % 2 ? "python" : "english");
        }
        fits.sequenceOffsets.push_back(60000);
        // Recorded choices, which a view's slice reads for its range alone (a layer
        // routed from its logits is routed whole, and kept).
        for (test::FixtureLayer &layer : fits.layers) {
            layer.topkIds.clear();
            for (int t = 0; t < 60000; ++t) {
                layer.topkIds.push_back(t % 8);
                layer.topkIds.push_back((t % 8 + 1 + (t / 8) % 7) % 8); // another expert
            }
        }
        m_fits = std::make_unique<test::TempDump>(fits);
        m_tooLarge = std::make_unique<test::TempDump>(test::uiFixture(60000, 8, 2, 16), test::StorageOptions{},
                                                      "large.h5");
    }

    void layersAreKeptCompactOnceShown()
    {
        MainWindow window;
        window.loader()->setUseCache(false);
        QVERIFY(test::showDump(window, m_fits->qpath()));
        const DumpSnapshotPtr s = window.snapshot();
        QVERIFY(!LayerStore::allFit(s->info(), std::size_t(2) << 20));
        QVERIFY(LayerStore::allFitCompact(s->info(), std::size_t(2) << 20));
        QTRY_COMPARE_WITH_TIMEOUT(layersInMemory(s), 5, 60000); // generous: sanitizer builds are slow
        // A compact layer (the views widened at most the one they show) answers the GUI
        // thread's question at once, as its pass does.
        std::size_t compact = 5;
        for (std::size_t l = 0; l < 5; ++l)
            if (!s->analysis.layers->resident(l))
                compact = l;
        QVERIFY(compact < 5);
        const int best = s->analysis.bestExpert(compact, 17);
        QVERIFY(best >= 0);
        QCOMPARE(best, s->analysis.pass(compact)->choices.ids[34]);
    }

    void aDumpTooLargeKeepsWhatFits()
    {
        MainWindow window;
        window.loader()->setUseCache(false);
        QVERIFY(test::showDump(window, m_tooLarge->qpath()));
        const DumpSnapshotPtr s = window.snapshot();
        QVERIFY(!LayerStore::allFitCompact(s->info(), std::size_t(2) << 20));
        // 2 MiB holds eleven compact layers (fewer beside the views' passes), never all 16.
        QTRY_VERIFY_WITH_TIMEOUT(layersInMemory(s) >= 1, 60000);
        QTest::qWait(300);
        QVERIFY(layersInMemory(s) < 16);
    }

private:
    QTemporaryDir m_settings, m_cache;
    std::unique_ptr<test::TempDump> m_fits, m_tooLarge;
};

QTEST_MAIN(LayerMemoryWindowTest)
#include "LayerMemoryWindowTest.moc"
