// Files held in memory (io/FileImage.h, HDF5's core driver) read exactly as the same
// bytes on disk: a dump's info and rows, a run log's series. And run-log attributes
// out of range (found by fuzzing: top_k = 1.1e13 overflowed an int) are refused with
// a message naming the attribute, from a file and from memory alike.
#include "io/DumpError.h"
#include "io/RoutingDump.h"
#include "io/RunLog.h"
#include "support/TempDump.h"

#include <QFile>
#include <QtTest>

using namespace moescope;
using namespace moescope::test;

namespace {

QByteArray bytesOf(const QString &path)
{
    QFile f(path);
    return f.open(QIODevice::ReadOnly) ? f.readAll() : QByteArray();
}

FileImage imageOf(const QByteArray &bytes) { return {bytes.constData(), std::size_t(bytes.size())}; }

constexpr const char *kName = "/nonexistent-moescope-test/image.h5";

DumpFixture runLogFixture()
{
    DumpFixture f = randomFixture(8, 4, 2, 2, 3);
    f.trainingSteps = {5, 6, 7};
    f.trainingLb = {1.0, 1.5, 1.25, 1.75, 1.125, 1.625}; // exact in the float32 it is stored as
    f.trainingZ.assign(6, 0.5);
    for (int i = 0; i < 3 * 2 * 4; ++i)
        f.trainingTokens.push_back(10 + i);
    return f;
}

// The problem of the DumpError `open` throws; "" when it throws none.
template <typename F>
std::string refusal(F &&open)
{
    try {
        open();
    } catch (const DumpError &e) {
        return e.problem();
    }
    return {};
}

} // namespace

class InMemoryImageTest : public QObject {
    Q_OBJECT
private slots:
    void aDumpReadsAsOnDisk()
    {
        StorageOptions gzip;
        gzip.deflate = true;
        gzip.shuffle = true;
        const DumpFixture fixture = randomFixture(50, 8, 2, 2, 7);
        const TempDump file(fixture, gzip);
        const QByteArray bytes = bytesOf(file.qpath());
        const RoutingDump disk(file.path());
        const RoutingDump memory(kName, imageOf(bytes));
        QCOMPARE(memory.info().path, std::string(kName));
        QCOMPARE(memory.info().numTokens, std::int64_t(50));
        QCOMPARE(memory.info().layers.size(), fixture.layers.size());
        QCOMPARE(memory.readVocab(), fixture.vocab);
        QCOMPARE(memory.readTokenIds(0, 50), fixture.tokenIds);
        for (std::size_t l = 0; l < fixture.layers.size(); ++l) {
            std::vector<float> a(50 * 8), b(50 * 8);
            disk.readLogits(l, 0, 50, a.data());
            memory.readLogits(l, 0, 50, b.data());
            QCOMPARE(b, a);
        }
        // Other layers' logits come from the fixture itself, not from the reader.
        std::vector<float> rows(50 * 8);
        memory.readLogits(1, 0, 50, rows.data());
        for (std::size_t i = 0; i < rows.size(); ++i)
            QCOMPARE(rows[i], fixture.layers[1].logits[i]);
    }

    void aRunLogReadsAsOnDisk()
    {
        const DumpFixture fixture = runLogFixture();
        const TempDump file(fixture);
        const QByteArray bytes = bytesOf(file.qpath());
        RunLogReader memory(kName, imageOf(bytes));
        QCOMPARE(memory.numSteps(), std::size_t(3));
        QCOMPARE(memory.steps(0, 3), fixture.trainingSteps);
        QCOMPARE(memory.counts(0, 3), fixture.trainingTokens);
        QCOMPARE(memory.series(RunLogSeries::LbLoss, 0, 3), fixture.trainingLb);
        QCOMPARE(memory.refresh(), RunLogReader::Change::None);
        QVERIFY(!memory.writerOpen());
    }

    void anEmptyOrDamagedImageIsRefused()
    {
        const QByteArray none;
        QVERIFY(!refusal([&] { RoutingDump(kName, imageOf(none)); }).empty());
        QVERIFY(!refusal([&] { RunLogReader(kName, imageOf(none)); }).empty());
        const QByteArray text("not an HDF5 file at all");
        QVERIFY(refusal([&] { RoutingDump(kName, imageOf(text)); }).find("cannot be opened as HDF5") !=
                std::string::npos);
    }

    void runLogAttributesOutOfRangeAreRefused_data()
    {
        QTest::addColumn<QString>("attribute");
        QTest::addColumn<double>("value");
        QTest::addColumn<QString>("problem");
        QTest::newRow("top_k huge") << "top_k" << 1.1107e13 << "'top_k' is 11107000000000";
        QTest::newRow("top_k above E") << "top_k" << 5.0 << "1..num_experts (4)";
        QTest::newRow("top_k fraction") << "top_k" << 1.5 << "must be an integer";
        QTest::newRow("version huge") << "format_version" << 1e300 << "is newer";
        QTest::newRow("version zero") << "format_version" << 0.0 << "is not valid";
    }
    void runLogAttributesOutOfRangeAreRefused()
    {
        QFETCH(QString, attribute);
        QFETCH(double, value);
        QFETCH(QString, problem);
        DumpFixture fixture = runLogFixture();
        fixture.numberAttributes[attribute.toStdString()] = value;
        const TempDump file(fixture);
        const QByteArray bytes = bytesOf(file.qpath());
        for (const std::string &why : {refusal([&] { RunLogReader{file.path()}; }),
                                       refusal([&] { RunLogReader(kName, imageOf(bytes)); })})
            QVERIFY2(QString::fromStdString(why).contains(problem), why.c_str());
    }
};

QTEST_GUILESS_MAIN(InMemoryImageTest)
#include "InMemoryImageTest.moc"
