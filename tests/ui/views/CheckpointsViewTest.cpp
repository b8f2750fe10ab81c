// The Checkpoints and Specialisation views in the window, offscreen: a series of three
// checkpoints compared (the heatmap's CSV as core computes it, the reference shown),
// a checkpoint chosen shows that dump with the layer and expert kept; the domain
// heatmap against a plain count and the token figures with another min_count.
#include "MainWindow.h"
#include "SelectionModel.h"
#include "analysis/CheckpointComparison.h"
#include "io/OpenDump.h"
#include "plots/CheckpointExpertPlot.h"
#include "plots/DomainPlot.h"
#include "plots/SaturationPlot.h"
#include "support/UiFixture.h"
#include "support/WindowTestSupport.h"
#include "views/CheckpointsView.h"
#include "views/SpecialisationView.h"

#include <QPushButton>
#include <QSignalSpy>
#include <QSpinBox>
#include <QTest>
#include <QTextStream>

#include <cmath>
#include <set>

using namespace moescope;
using namespace moescope::ui;

namespace {
// The base dump with every `every`-th token's logits rotated by `shift` experts: the
// same tokens, partly re-routed.
test::DumpFixture checkpoint(int every, int shift, int step)
{
    test::DumpFixture f = test::uiFixture(600, 8, 2, 3, false);
    const int E = f.numExperts;
    for (auto &layer : f.layers)
        for (std::size_t t = 0; every > 0 && t < f.tokenIds.size(); t += std::size_t(every)) {
            std::vector<float> row(layer.logits.begin() + long(t) * E, layer.logits.begin() + long(t + 1) * E);
            for (int e = 0; e < E; ++e)
                layer.logits[t * std::size_t(E) + std::size_t((e + shift) % E)] = row[std::size_t(e)];
        }
    f.numberAttributes["checkpoint_step"] = step;
    return f;
}

QStringList csvRows(ChartSource &chart)
{
    QString text;
    QTextStream out(&text);
    chart.writeCsv(out);
    out.flush();
    return text.split('\n', Qt::SkipEmptyParts);
}
} // namespace

class CheckpointsViewTest : public QObject {
    Q_OBJECT

private slots:
    void initTestCase()
    {
        test::isolateSettings(m_settings);
        m_a = std::make_unique<test::TempDump>(checkpoint(2, 3, 100), test::StorageOptions{}, "a.h5");
        m_b = std::make_unique<test::TempDump>(checkpoint(4, 1, 200), test::StorageOptions{}, "b.h5");
        m_c = std::make_unique<test::TempDump>(checkpoint(0, 0, 300), test::StorageOptions{}, "c.h5");
    }

    void comparesAndShowsCheckpoints()
    {
        MainWindow window;
        window.show();
        QSignalSpy shown(&window, &MainWindow::dumpShown);
        QSignalSpy compared(window.checkpoints(), &CheckpointsView::comparisonShown);
        window.compareFiles({m_b->qpath(), m_a->qpath(), m_c->qpath()});
        QVERIFY(compared.wait(15000));
        // The reference (highest step) opens in the other views.
        QVERIFY(shown.wait(15000));
        QCOMPARE(shown.last().first().toString(), m_c->qpath());

        // The heatmap's data is core's comparison of the same files.
        const CheckpointComparisonPtr shownComparison = window.checkpoints()->comparison();
        const auto a = openDump(m_a->path()), b = openDump(m_b->path()), c = openDump(m_c->path());
        const CheckpointComparison expected = compareCheckpoints({b.get(), a.get(), c.get()});
        SaturationPlot *plot = window.checkpoints()->saturation();
        QVERIFY(plot->hasChartData());
        const QStringList rows = csvRows(*plot);
        QCOMPARE(rows.size(), 1 + 3 * 3); // header, layers x checkpoints
        // Columns in step order: a (100), b (200), c (300, the reference).
        QVERIFY(rows[1].contains("a.h5") && rows[2].contains("b.h5") && rows[3].contains("c.h5"));
        const QStringList first = rows[1].split(',');
        QVERIFY(std::fabs(first[4].toDouble() - expected.layers[0].figures.checkpoints[1].saturation) < 1e-9);
        QVERIFY(expected.layers[0].figures.checkpoints[1].saturation < expected.layers[0].figures.checkpoints[0].saturation);
        QCOMPARE(rows[3].split(',')[4].toDouble(), 1.0);

        // Linked selection: layer 2, expert 5; the expert plot and load change follow.
        window.selection()->setLayerAndExpert(2, 5);
        QVERIFY(window.checkpoints()->expertPlot()->hasChartData());
        const QStringList expertRows = csvRows(*window.checkpoints()->expertPlot());
        QCOMPARE(expertRows.size(), 4);
        QVERIFY(std::fabs(expertRows[1].split(',')[6].toDouble() - expected.layers[2].figures.checkpoints[1].expertJaccard[5]) < 1e-9);

        // Choosing checkpoint a shows that dump everywhere, keeping layer 2 and expert 5.
        window.checkpoints()->setCheckpoint(1);
        QCOMPARE(window.checkpoints()->checkpoint(), 1);
        QSignalSpy chosen(window.checkpoints(), &CheckpointsView::checkpointChosen);
        shown.clear();
        window.checkpoints()->findChild<QPushButton *>()->click();
        QCOMPARE(chosen.count(), 1);
        QVERIFY(shown.wait(15000));
        QCOMPARE(shown.last().first().toString(), m_a->qpath());
        QCOMPARE(window.snapshot()->path, m_a->qpath());
        QCOMPARE(window.selection()->current().layer, 2);
        QCOMPARE(window.selection()->current().expert, 5);
        QCOMPARE(window.checkpoints()->checkpoint(), 1);
    }

    void refusedSeriesSaysWhy()
    {
        test::DumpFixture other = checkpoint(0, 0, 400);
        other.tokenIds[10] = other.tokenIds[10] == 0 ? 1 : 0;
        const test::TempDump d(other, {}, "other.h5");
        MainWindow window;
        window.show();
        QSignalSpy failed(window.checkpoints(), &CheckpointsView::comparisonFailed);
        window.compareFiles({m_c->qpath(), d.qpath()});
        QVERIFY(failed.wait(15000));
        QVERIFY(failed.first().first().toString().contains("position 10"));
    }

    void specialisationView()
    {
        const test::DumpFixture f = test::uiFixture(600, 8, 2, 3, false);
        const test::TempDump d(f);
        MainWindow window;
        QVERIFY(test::showDump(window, d.qpath()));
        window.selection()->setLayerAndExpert(1, 3);
        SpecialisationView *view = window.specialisation();
        DomainPlot *plot = view->plot();
        QVERIFY(plot->hasChartData());
        const QStringList rows = csvRows(*plot);
        QCOMPARE(rows.size(), 1 + 3 * 8);
        // Plain: of the label's tokens, the share whose chosen experts include e.
        const LayerChoices &c = window.snapshot()->analysis.pass(1)->choices;
        for (const QString &row : rows.mid(1)) {
            const QStringList cells = row.split(',');
            const std::string label = cells[1].toStdString();
            const int e = cells[2].toInt();
            long tokens = 0, with = 0;
            for (std::size_t s = 0; s < f.sequenceLabels.size(); ++s) {
                if (f.sequenceLabels[s] != label)
                    continue;
                for (std::int64_t t = f.sequenceOffsets[s]; t < f.sequenceOffsets[s + 1]; ++t) {
                    ++tokens;
                    with += c.chose(t, e);
                }
            }
            QVERIFY(std::fabs(cells[3].toDouble() - double(with) / double(tokens)) < 1e-12);
        }
        // The figures: locality pairs and the vocabulary count change with min_count.
        const LayerReport &lr = window.snapshot()->analysis.report.layers[1];
        QVERIFY(view->figuresText().contains(QString::number(lr.locality.pairs)));
        QVERIFY(view->figuresText().contains(QStringLiteral("expert 3")));
        view->minCountBox()->setValue(1);
        const std::set<std::int64_t> distinct(f.tokenIds.begin(), f.tokenIds.end());
        QVERIFY2(view->figuresText().contains(QStringLiteral("%1 token ids seen at least 1 times").arg(distinct.size())),
                 qPrintable(view->figuresText()));
    }

private:
    QTemporaryDir m_settings;
    std::unique_ptr<test::TempDump> m_a, m_b, m_c;
};

QTEST_MAIN(CheckpointsViewTest)
#include "CheckpointsViewTest.moc"
