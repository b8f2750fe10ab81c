// Every malformed dump is refused with a DumpError naming the file, the object and
// the problem; nothing crashes.
#include "analysis/AnalysisPipeline.h"
#include "io/RoutingDump.h"
#include "support/TempDump.h"

#include <QtTest>

#include <functional>

using namespace moescope;
using namespace moescope::test;

using Breaker = std::function<void(DumpFixture &)>;
Q_DECLARE_METATYPE(Breaker)

class ReaderErrorTest : public QObject {
    Q_OBJECT

    // Opens `path` (and runs the statistics, where some errors surface) and returns
    // the error; fails the test when nothing is refused.
    static std::optional<DumpError> refusal(const std::string &path)
    {
        try {
            const RoutingDump dump(path);
            buildReport(dump, {});
        } catch (const DumpError &e) {
            return e;
        }
        return std::nullopt;
    }

private slots:
    void malformed_data()
    {
        QTest::addColumn<Breaker>("breaker");
        QTest::addColumn<QString>("object");
        QTest::addColumn<QString>("problem");
        auto row = [](const char *name, Breaker b, const char *object, const char *problem) {
            QTest::newRow(name) << b << QString(object) << QString(problem);
        };
        row("format missing", [](DumpFixture &f) { f.omit.push_back("format"); }, "/", "'format' is missing");
        row("format wrong", [](DumpFixture &f) { f.format = "moe-trace"; }, "/", "expected 'moe-routing'");
        row("version missing", [](DumpFixture &f) { f.omit.push_back("format_version"); }, "/", "format_version");
        row("version newer", [](DumpFixture &f) { f.numberAttributes["format_version"] = 2; }, "/", "newer");
        row("num_experts missing", [](DumpFixture &f) { f.omit.push_back("num_experts"); }, "/", "num_experts");
        row("num_experts zero", [](DumpFixture &f) { f.numberAttributes["num_experts"] = 0; }, "/", "1 to 4096");
        row("top_k too big", [](DumpFixture &f) { f.numberAttributes["top_k"] = 9; }, "/", "top_k is 9");
        // Found by fuzzing: converted to an integer before its range was checked.
        row("checkpoint_step 3.7e19", [](DumpFixture &f) { f.numberAttributes["checkpoint_step"] = 3.7e19; }, "/", "out of range");
        row("n_group 2^40", [](DumpFixture &f) { f.numberAttributes["n_group"] = 1099511627776.0; }, "/", "n_group and topk_group");
        row("top_k above 64", [](DumpFixture &f) { f.numberAttributes["num_experts"] = 128; f.numberAttributes["top_k"] = 65; }, "/", "at most 64");
        row("scoring unknown", [](DumpFixture &f) { f.stringAttributes["scoring"] = "relu"; }, "/", "'relu'");
        row("groups do not divide", [](DumpFixture &f) { f.numberAttributes["n_group"] = 2; f.numberAttributes["topk_group"] = 1; }, "/", "does not divide");
        row("tokens missing", [](DumpFixture &f) { f.omit.push_back("tokens"); }, "/", "'/tokens' is missing");
        row("ids missing", [](DumpFixture &f) { f.omit.push_back("ids"); }, "/tokens/ids", "missing");
        row("zero tokens", [](DumpFixture &f) { f.tokenIds.clear(); for (auto &l : f.layers) l.logits.clear(), l.topkIds = {}; }, "/tokens/ids", "no tokens");
        row("token id outside vocab", [](DumpFixture &f) { f.tokenIds[3] = 40; }, "/tokens/ids", "outside the vocab");
        row("negative token id", [](DumpFixture &f) { f.tokenIds[0] = -1; }, "/tokens/ids", "outside the vocab");
        row("offsets not from 0", [](DumpFixture &f) { f.sequenceOffsets = {1, 6}; }, "/tokens/sequence_offsets", "must be 0");
        row("offsets not to T", [](DumpFixture &f) { f.sequenceOffsets = {0, 5}; }, "/tokens/sequence_offsets", "must be T");
        row("offsets decrease", [](DumpFixture &f) { f.sequenceOffsets = {0, 4, 2, 6}; }, "/tokens/sequence_offsets", "decrease");
        row("labels count", [](DumpFixture &f) { f.sequenceOffsets = {0, 3, 6}; f.sequenceLabels = {"python"}; }, "/tokens/sequence_labels", "1 labels for 2 sequences");
        row("layers missing", [](DumpFixture &f) { f.omit.push_back("layers"); }, "/", "'/layers' is missing");
        row("no layer", [](DumpFixture &f) { f.layers.clear(); }, "/layers", "no layer groups");
        row("layer empty", [](DumpFixture &f) { f.layers[0].logits.clear(); }, "/layers/layer0", "neither 'logits' nor 'topk_ids'");
        row("logits wrong shape", [](DumpFixture &f) { f.layers[0].logits.resize(6 * 3 + 6); }, "/layers/layer0/logits", "shape [T, E]");
        row("topk_ids wrong shape", [](DumpFixture &f) { f.layers[0].topkIds = {0, 1, 2}; }, "/layers/layer0/topk_ids", "shape [T, k]");
        row("expert id too big", [](DumpFixture &f) { f.layers[0].topkIds = {0, 1, 2, 3, 1, 0}; }, "/layers/layer0/topk_ids", "expert id 3 at row 3");
        row("expert id negative", [](DumpFixture &f) { f.layers[0].topkIds = {0, 1, 2, -1, 1, 0}; }, "/layers/layer0/topk_ids", "outside [0, 3)");
        row("bias wrong shape", [](DumpFixture &f) { f.layers[0].expertBias = {0.1, 0.2}; }, "/layers/layer0/expert_bias", "shape [E]");
    }

    void malformed()
    {
        QFETCH(Breaker, breaker);
        QFETCH(QString, object);
        QFETCH(QString, problem);
        DumpFixture f = randomFixture(6, 3, 1, 1, 11);
        breaker(f);
        const TempDump file(f);
        const auto error = refusal(file.path());
        QVERIFY2(error.has_value(), "the dump was not refused");
        const QString message = error->what();
        QCOMPARE(QString::fromStdString(error->file()), file.qpath());
        QCOMPARE(QString::fromStdString(error->object()), object);
        QVERIFY2(message.contains(problem), qPrintable(message));
        QVERIFY2(message.startsWith(file.qpath() + ": "), qPrintable(message));
    }

    void badIdNamesTheFirst_data()
    {
        QTest::addColumn<int>("bits");
        QTest::addColumn<bool>("isUnsigned");
        QTest::addColumn<bool>("compressed");
        QTest::addColumn<int>("firstBad");
        for (const int bits : {8, 16, 32, 64})
            for (const bool isUnsigned : {false, true})
                for (const bool compressed : {false, true})
                    QTest::addRow("%s%d%s", isUnsigned ? "uint" : "int", bits, compressed ? ", gzip" : "")
                        << bits << isUnsigned << compressed << (isUnsigned ? 3 : -1); // E itself, or negative
    }

    // Ids of every width, signed or not, plain or compressed (then widened chunk by
    // chunk on several threads): the message names the first id outside [0, E),
    // whichever chunk was done first.
    void badIdNamesTheFirst()
    {
        QFETCH(int, bits);
        QFETCH(bool, isUnsigned);
        QFETCH(bool, compressed);
        QFETCH(int, firstBad);
        DumpFixture f = randomFixture(40, 3, 2, 1, 12);
        f.layers[0].topkIds.assign(40 * 2, 1);
        f.layers[0].topkIds[2 * 30 + 1] = 7;     // row 30, in the fifth 7-row chunk
        f.layers[0].topkIds[2 * 9] = firstBad;   // row 9, in the second
        StorageOptions storage;
        storage.idBits = bits;
        storage.idsUnsigned = isUnsigned;
        storage.deflate = compressed;
        storage.shuffle = compressed;
        const TempDump file(f, storage);
        const auto error = refusal(file.path());
        QVERIFY2(error.has_value(), "the dump was not refused");
        const QString message = error->what();
        QCOMPARE(QString::fromStdString(error->object()), QString("/layers/layer0/topk_ids"));
        QVERIFY2(message.contains(QString("expert id %1 at row 9 is outside [0, 3)").arg(firstBad)), qPrintable(message));
    }

    void notHdf5_data()
    {
        QTest::addColumn<QByteArray>("content");
        QTest::addColumn<QString>("problem");
        QTest::newRow("empty file") << QByteArray() << "is empty";
        QTest::newRow("text file") << QByteArray("format,moe-routing\n1,2,3\n") << "not an HDF5 file";
    }

    void notHdf5()
    {
        QFETCH(QByteArray, content);
        QFETCH(QString, problem);
        QTemporaryDir dir;
        const QString path = dir.filePath("bad.h5");
        QFile f(path);
        QVERIFY(f.open(QIODevice::WriteOnly));
        f.write(content);
        f.close();
        const auto error = refusal(path.toStdString());
        QVERIFY(error.has_value());
        QVERIFY2(QString(error->what()).contains(problem), error->what());
        QVERIFY(QString(error->what()).contains(path));
    }

    void missingFile()
    {
        const auto error = refusal("/nonexistent/dump.h5");
        QVERIFY(error.has_value());
        QVERIFY(QString(error->what()).contains("/nonexistent/dump.h5"));
    }

    void truncated_data()
    {
        QTest::addColumn<double>("keep");
        QTest::newRow("half") << 0.5;
        QTest::newRow("most") << 0.9;
        QTest::newRow("header only") << 0.02;
    }

    void truncated()
    {
        QFETCH(double, keep);
        DumpFixture f = randomFixture(4000, 16, 2, 2, 12);
        const TempDump file(f);
        QFile data(file.qpath());
        QVERIFY(data.open(QIODevice::ReadWrite));
        QVERIFY(data.resize(qint64(data.size() * keep)));
        data.close();
        const auto error = refusal(file.path());
        QVERIFY2(error.has_value(), "a truncated file was read without complaint");
        QVERIFY(QString(error->what()).startsWith(file.qpath()));
    }

    void externalLinkIsRefused()
    {
        QTemporaryDir dir;
        const std::string other = dir.filePath("other.h5").toStdString();
        const std::string path = dir.filePath("dump.h5").toStdString();
        randomFixture(6, 3, 1, 1, 13).write(other);
        DumpFixture f = randomFixture(6, 3, 1, 1, 13);
        f.write(path);
        hid_t file = H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
        hid_t layers = H5Gopen2(file, "layers", H5P_DEFAULT);
        QVERIFY(H5Lcreate_external(other.c_str(), "/layers/layer0", layers, "borrowed", H5P_DEFAULT, H5P_DEFAULT) >= 0);
        H5Gclose(layers);
        H5Fclose(file);
        const auto error = refusal(path);
        QVERIFY(error.has_value());
        QCOMPARE(QString::fromStdString(error->object()), QString("/layers/borrowed"));
        QVERIFY(QString(error->what()).contains("external link"));
    }

    void danglingSoftLinkIsRefused()
    {
        QTemporaryDir dir;
        const std::string path = dir.filePath("dump.h5").toStdString();
        randomFixture(6, 3, 1, 1, 14).write(path);
        hid_t file = H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
        QVERIFY(H5Lcreate_soft("/nowhere", file, "/layers/ghost", H5P_DEFAULT, H5P_DEFAULT) >= 0);
        H5Fclose(file);
        const auto error = refusal(path);
        QVERIFY(error.has_value());
        QVERIFY(QString(error->what()).contains("soft link"));
    }

    void softLinkThatResolvesIsFollowed()
    {
        QTemporaryDir dir;
        const std::string path = dir.filePath("dump.h5").toStdString();
        randomFixture(6, 3, 1, 1, 15).write(path);
        hid_t file = H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
        QVERIFY(H5Lcreate_soft("/layers/layer0", file, "/layers/alias", H5P_DEFAULT, H5P_DEFAULT) >= 0);
        H5Fclose(file);
        const RoutingDump dump(path);
        QCOMPARE(dump.info().layers.size(), std::size_t(2));
    }

    void singleExpertWorks()
    {
        DumpFixture f = randomFixture(6, 1, 1, 1, 16);
        const TempDump file(f);
        const RoutingDump dump(file.path());
        const DumpReport report = buildReport(dump, {});
        QCOMPARE(report.layers[0].counts, (std::vector<std::int64_t>{6}));
        QCOMPARE(report.layers[0].load.entropy, 0.0);
        QCOMPARE(report.layers[0].load.cv, 0.0);
        QCOMPARE(*report.layers[0].lbLoss, 1.0);
    }
};

QTEST_GUILESS_MAIN(ReaderErrorTest)
#include "ReaderErrorTest.moc"
