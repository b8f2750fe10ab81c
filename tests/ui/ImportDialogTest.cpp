// File > Import... on a Megatron-Core router trace: the import runs off the GUI thread,
// the window opens the dump it wrote; a refused trace is explained in a message box,
// the form stays open and no file is left.
#include "DumpSnapshot.h"
#include "ImportDialog.h"
#include "MainWindow.h"
#include "support/MegatronFixture.h"
#include "support/UiFixture.h"

#include <QDir>
#include <QFile>
#include <QLineEdit>
#include <QMessageBox>
#include <QSignalSpy>
#include <QTest>

using namespace moescope;
using namespace moescope::ui;

namespace {
// Rank 0, one step, three decoder layers of 40 tokens, top-2 of 6, with logits.
std::vector<test::TraceCall> trace()
{
    std::vector<test::TraceCall> calls;
    for (int layer = 0; layer < 3; ++layer) {
        test::TraceCall c;
        c.step = 5;
        c.layer = layer;
        c.numExperts = 6;
        for (int t = 0; t < 40; ++t) {
            const int a = (t + layer) % 6, b = (t * 7 + 1 + layer) % 6 == a ? (a + 1) % 6 : (t * 7 + 1 + layer) % 6;
            c.topIndices.push_back({std::min(a, b), std::max(a, b)});
            for (int e = 0; e < 6; ++e)
                c.logits.push_back(e == a ? 2.f : e == b ? 1.f : -float(e) / 4);
        }
        calls.push_back(c);
    }
    return calls;
}
} // namespace

class ImportDialogTest : public QObject {
    Q_OBJECT
private slots:
    void initTestCase() { test::isolateSettings(m_settings); }

    void importsAndOpens()
    {
        QTemporaryDir dir;
        test::writeRouterTrace(dir.path().toStdString(), trace());
        MainWindow window;
        window.show();
        ImportDialog *dialog = window.showImportDialog();
        dialog->setFormat("megatron-tpe"); // its options only: --step is megatron's
        QLineEdit *step = nullptr;
        for (QLineEdit *edit : dialog->findChildren<QLineEdit *>())
            if (edit->placeholderText().contains("(megatron)"))
                step = edit;
        QVERIFY(step && !step->isEnabled());
        dialog->setFormat("");
        QVERIFY(step->isEnabled());
        dialog->setSource(dir.path());
        const QString out = dir.path() + "/imported.h5";
        dialog->setOutput(out);
        QSignalSpy finished(dialog, &ImportDialog::finished);
        QSignalSpy shown(&window, &MainWindow::dumpShown);
        dialog->start();
        QVERIFY(dialog->running() || !finished.isEmpty());
        QVERIFY(shown.wait(20000));
        QCOMPARE(finished.size(), 1);
        QCOMPARE(finished[0][0].toString(), QString());
        QCOMPARE(shown[0][0].toString(), out);
        const DumpInfo &info = window.snapshot()->dump->info();
        QCOMPARE(info.layers.size(), std::size_t(3));
        QCOMPARE(QString::fromStdString(info.layers[0].name), QString("decoder.0"));
        QCOMPARE(info.numExperts, 6);
        QCOMPARE(info.numTokens, std::int64_t(40));
    }

    void explainsARefusedTrace()
    {
        QTemporaryDir dir;
        test::writeRouterTrace(dir.path().toStdString(), trace());
        QFile f(dir.path() + "/router_trace_rank0.jsonl");
        QVERIFY(f.open(QIODevice::ReadWrite));
        f.resize(f.size() - 30); // the last line cut short
        f.close();
        MainWindow window;
        window.show();
        ImportDialog *dialog = window.showImportDialog();
        dialog->setSource(dir.path());
        dialog->setOutput(dir.path() + "/x.h5");
        QSignalSpy finished(dialog, &ImportDialog::finished);
        dialog->start();
        QVERIFY(finished.wait(20000));
        const QString error = finished[0][0].toString();
        QVERIFY2(error.contains("router_trace_rank0.jsonl") && error.contains("line 3"), qPrintable(error));
        QVERIFY(dialog->isVisible());
        QMessageBox *box = dialog->findChild<QMessageBox *>();
        QVERIFY(box && box->isVisible());
        QVERIFY(box->text().contains("line 3"));
        QCOMPARE(QDir(dir.path()).entryList({"*.h5", ".*.tmp"}, QDir::Files | QDir::Hidden), QStringList{});
        box->close();
        dialog->close();
    }

private:
    QTemporaryDir m_settings;
};

QTEST_MAIN(ImportDialogTest)
#include "ImportDialogTest.moc"
