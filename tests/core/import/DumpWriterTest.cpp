// The importers' dump writer: what it writes opens with the reader (preflight and
// schema) and reads back as given; a record that breaks the format, a cancelled write
// and a folder that does not exist leave no file and keep an earlier one intact.
#include "import/ImportedRecord.h"
#include "io/DumpWriter.h"
#include "io/OpenDump.h"
#include "io/RoutingDump.h"
#include "support/Throws.h"

#include <QDir>
#include <QFile>
#include <QTemporaryDir>
#include <QtTest>

#include <thread>

using namespace moescope;
using namespace moescope::test;

namespace {

// T = 5 tokens in two sequences, E = 4, k = 2; one layer with everything, one with choices only.
import::ImportedRecord smallRecord()
{
    import::ImportedRecord r;
    r.numExperts = 4;
    r.topK = 2;
    r.numTokens = 5;
    r.tokenIds = {3, 1, 2, 0, 3};
    r.vocab = {"a", "b", "c", "d"};
    r.sequenceOffsets = {0, 2, 5};
    r.sequenceLabels = {"python", "english"};
    import::ImportedLayer a;
    a.name = "decoder.0";
    a.index = 0;
    a.choices = {0, 1, 2, 3, 1, 0, 3, 2, 0, 2};
    a.weights = {0.6f, 0.4f, 0.5f, 0.5f, 0.9f, 0.1f, 0.7f, 0.3f, 0.8f, 0.2f};
    for (int i = 0; i < 20; ++i)
        a.logits.push_back(float(i % 7) * 0.5f - 1.f);
    import::ImportedLayer b;
    b.name = "mtp.0.0";
    b.index = 1;
    b.choices = {3, 2, 1, 0, 0, 1, 2, 3, 3, 0};
    r.layers = {a, b};
    r.training.steps = {100, 200};
    r.training.layerNames = {"decoder.0", "mtp.0.0"};
    for (int i = 0; i < 16; ++i)
        r.training.tokensPerExpert.push_back(i);
    r.stringAttributes["source"] = "test";
    return r;
}

QStringList filesIn(const QString &dir)
{
    return QDir(dir).entryList(QDir::Files | QDir::Hidden | QDir::NoDotAndDotDot);
}

} // namespace

class DumpWriterTest : public QObject {
    Q_OBJECT

private slots:
    void writesWhatTheReaderReads()
    {
        QTemporaryDir dir;
        const import::ImportedRecord r = smallRecord();
        const std::string path = (dir.path() + "/out.h5").toStdString();
        writeImportedDump(r, path);
        QCOMPARE(filesIn(dir.path()), QStringList{"out.h5"});
        const auto dump = openDump(path);
        const DumpInfo &info = dump->info();
        QCOMPARE(info.numExperts, 4);
        QCOMPARE(info.topK, 2);
        QCOMPARE(info.numTokens, std::int64_t(5));
        QCOMPARE(info.sequenceOffsets, r.sequenceOffsets);
        QCOMPARE(info.sequenceLabels, r.sequenceLabels);
        QCOMPARE(dump->readVocab(), r.vocab);
        QCOMPARE(dump->readTokenIds(0, 5), r.tokenIds);
        QCOMPARE(info.layers.size(), std::size_t(2));
        for (std::size_t l = 0; l < 2; ++l) {
            QCOMPARE(QString::fromStdString(info.layers[l].name), QString::fromStdString(r.layers[l].name));
            std::vector<std::int32_t> ids(10);
            dump->readTopkIds(l, 0, 5, ids.data());
            QCOMPARE(ids, std::vector<std::int32_t>(r.layers[l].choices.begin(), r.layers[l].choices.end()));
        }
        std::vector<float> z(20), w(10);
        dump->readLogits(0, 0, 5, z.data());
        QCOMPARE(z, std::vector<float>(r.layers[0].logits.begin(), r.layers[0].logits.end()));
        dump->readTopkWeights(0, 0, 5, w.data());
        QCOMPARE(w, std::vector<float>(r.layers[0].weights.begin(), r.layers[0].weights.end()));
        QVERIFY(!info.layers[1].hasLogits && !info.layers[1].hasTopkWeights);
        const TrainingSeries t = dump->readTraining();
        QCOMPARE(t.steps, r.training.steps);
        QCOMPARE(t.tokensPerExpert, r.training.tokensPerExpert);
    }

    // Counts only and no token ids: a load-only dump without /tokens, T in num_tokens.
    void writesLoadOnlyDumps()
    {
        QTemporaryDir dir;
        import::ImportedRecord r;
        r.numExperts = 3;
        r.topK = 1;
        r.numTokens = 9;
        import::ImportedLayer l;
        l.name = "00";
        l.counts = {4, 0, 5};
        r.layers = {l};
        const std::string path = (dir.path() + "/counts.h5").toStdString();
        writeImportedDump(r, path);
        const auto dump = openDump(path);
        QVERIFY(!dump->info().hasTokens);
        QCOMPARE(dump->info().numTokens, std::int64_t(9));
        QCOMPARE(dump->info().layers[0].storedCounts, l.counts);
    }

    // A streamed layer: its rows come through the sink from other threads, E is
    // settled by the stream; a stream that leaves rows out is refused, no file left.
    void streamsChoices()
    {
        QTemporaryDir dir;
        import::ImportedRecord r = smallRecord();
        r.numExperts = 0; // the stream says
        r.layers.erase(r.layers.begin());
        r.layers[0].streamed = true;
        const std::vector<std::int16_t> rows = {3, 2, 1, 0, 0, 1, 2, 5, 5, 0};
        r.layers[0].choices.clear();
        r.training = {};
        r.streamChoices = [&](import::ChoiceSink &sink) {
            std::thread later([&] { sink.write(0, 2, 3, rows.data() + 4); });
            sink.write(0, 0, 2, rows.data());
            later.join();
            return import::StreamedFacts{6, {"E from the stream"}};
        };
        const std::string path = (dir.path() + "/streamed.h5").toStdString();
        const auto facts = writeImportedDump(r, path);
        QCOMPARE(facts.numExperts, 6);
        QCOMPARE(facts.warnings.back(), std::string("E from the stream"));
        const auto dump = openDump(path);
        QCOMPARE(dump->info().numExperts, 6);
        std::vector<std::int32_t> ids(10);
        dump->readTopkIds(0, 0, 5, ids.data());
        QCOMPARE(ids, std::vector<std::int32_t>(rows.begin(), rows.end()));

        r.streamChoices = [&](import::ChoiceSink &sink) {
            sink.write(0, 0, 2, rows.data());
            return import::StreamedFacts{6, {}};
        };
        try {
            writeImportedDump(r, (dir.path() + "/half.h5").toStdString());
            QFAIL("a stream that left rows out was written");
        } catch (const DumpError &e) {
            QVERIFY2(QString(e.what()).contains("/layers/mtp.0.0/topk_ids") && QString(e.what()).contains("2 of its 5 rows"),
                     e.what());
        }
        QCOMPARE(filesIn(dir.path()), QStringList{"streamed.h5"});
    }

    void refusesAndLeavesNothing()
    {
        QTemporaryDir dir;
        const QString path = dir.path() + "/out.h5";
        {
            QFile old(path);
            QVERIFY(old.open(QIODevice::WriteOnly));
            old.write("an earlier file");
        }
        import::ImportedRecord r = smallRecord();
        r.layers[1].choices[7] = -1; // a slot with no choice: the format has no padding
        try {
            writeImportedDump(r, path.toStdString());
            QFAIL("a -1 choice was written");
        } catch (const DumpError &e) {
            QVERIFY2(QString(e.what()).contains("/layers/mtp.0.0/topk_ids") && QString(e.what()).contains("token 3 slot 1"),
                     e.what());
        }
        r = smallRecord();
        r.layers[0].choices[0] = 4; // E = 4
        QVERIFY(throws<DumpError>([&] { writeImportedDump(r, path.toStdString()); }));

        // Cancelled half way: the temporary file goes, the earlier file stays.
        std::atomic<bool> cancel{true};
        QVERIFY(throws<Cancelled>([&] { writeImportedDump(smallRecord(), path.toStdString(), Progress({}, &cancel)); }));
        QCOMPARE(filesIn(dir.path()), QStringList{"out.h5"});
        QFile old(path);
        QVERIFY(old.open(QIODevice::ReadOnly));
        QCOMPARE(old.readAll(), QByteArray("an earlier file"));

        try {
            writeImportedDump(smallRecord(), (dir.path() + "/absent/out.h5").toStdString());
            QFAIL("written into a folder that does not exist");
        } catch (const DumpError &e) {
            QVERIFY2(QString(e.what()).contains("absent/out.h5"), e.what());
        }
        QCOMPARE(filesIn(dir.path()), QStringList{"out.h5"});
    }
};

QTEST_GUILESS_MAIN(DumpWriterTest)
#include "DumpWriterTest.moc"
