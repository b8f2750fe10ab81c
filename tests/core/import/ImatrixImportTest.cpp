// The llama.cpp imatrix importer on GGUF files laid out the way llama-imatrix writes
// them (support/GgufFixture.h): each MoE layer's ffn_gate_exps counts become a
// load-only layer, and damaged files are refused naming the file and the problem.
#include "core/import/ImportTestSupport.h"
#include "import/GgufFile.h"
#include "io/OpenDump.h"
#include "support/GgufFixture.h"

#include <QtTest>

#include <algorithm>
#include <fstream>
#include <numeric>
#include <random>

using namespace moescope;
using namespace moescope::test;

namespace {

constexpr int kE = 6, kK = 2, kChunks = 3, kChunkSize = 8; // 24 tokens, 48 assignments per layer

// Per layer, the counts of kChunks * kChunkSize tokens each choosing kK distinct experts.
std::vector<std::vector<float>> drawCounts(int layers, unsigned seed)
{
    std::mt19937 rng(seed);
    std::vector<std::vector<float>> out;
    for (int l = 0; l < layers; ++l) {
        std::vector<float> c(kE, 0.f);
        for (int t = 0; t < kChunks * kChunkSize; ++t) {
            std::vector<int> order(kE);
            std::iota(order.begin(), order.end(), 0);
            std::shuffle(order.begin(), order.end(), rng);
            for (int s = 0; s < kK; ++s)
                c[std::size_t(order[std::size_t(s)])] += 1.f;
        }
        out.push_back(c);
    }
    return out;
}

QString writeFixture(const QTemporaryDir &dir, const GgufFixture &f, const QString &name = "imatrix.gguf")
{
    const QString path = dir.path() + "/" + name;
    f.write(path.toStdString());
    return path;
}

} // namespace

class ImatrixImportTest : public QObject {
    Q_OBJECT

private slots:
    void importsLoadOnlyCounts()
    {
        QTemporaryDir dir;
        const auto counts = drawCounts(3, 5);
        GgufFixture f = imatrixFixture(counts, kChunks, kChunkSize);
        // The gate's counts are the ones read: make the others differ to show it.
        for (GgufFixtureTensor &t : f.tensors)
            if (t.name.find("ffn_down_exps.weight.counts") != std::string::npos)
                t.values[0] += 1000.f;
        const QString source = writeFixture(dir, f);
        QCOMPARE(QString::fromStdString(import::detectImportFormat(source.toStdString()).name),
                 QString("imatrix"));
        const QString out = dir.path() + "/out.h5";
        const import::ImportResult result = runImport("imatrix", source, out);
        QVERIFY(!result.warnings.empty()); // top-k told from the counts, said so
        const auto dump = openDump(out.toStdString());
        const DumpInfo &info = dump->info();
        QVERIFY(!info.hasTokens);
        QCOMPARE(info.numExperts, kE);
        QCOMPARE(info.topK, kK);
        QCOMPARE(info.numTokens, std::int64_t(kChunks * kChunkSize));
        QCOMPARE(info.layers.size(), std::size_t(3));
        for (std::size_t l = 0; l < 3; ++l) {
            QVERIFY(info.layers[l].loadOnly());
            QCOMPARE(QString::fromStdString(info.layers[l].name), QString("0%1").arg(l));
            QCOMPARE(info.layers[l].index, std::optional<std::int64_t>(std::int64_t(l)));
            const std::vector<double> want(counts[l].begin(), counts[l].end());
            QCOMPARE(info.layers[l].storedCounts, want);
        }
    }

    void alignmentKeyAndTopKOption()
    {
        QTemporaryDir dir;
        GgufFixture f = imatrixFixture(drawCounts(2, 9), kChunks, kChunkSize);
        f.alignment = 64;
        f.writeAlignment = true;
        const QString source = writeFixture(dir, f);
        const import::GgufFile gguf(source.toStdString());
        QCOMPARE(gguf.alignment(), std::uint64_t(64));
        for (const import::GgufTensor &t : gguf.tensors())
            QCOMPARE(t.offset % 64, std::uint64_t(0));
        import::ImportOptions options;
        options.values["top-k"] = "4";
        const QString out = dir.path() + "/out.h5";
        runImport("imatrix", source, out, options);
        const auto dump = openDump(out.toStdString());
        QCOMPARE(dump->info().topK, 4);
        QCOMPARE(dump->info().numTokens, std::int64_t(kChunks * kChunkSize * kK / 4));
    }

    void refusesBadMagic()
    {
        QTemporaryDir dir;
        std::string bytes = imatrixFixture(drawCounts(1, 1), kChunks, kChunkSize).bytes();
        bytes[0] = 'X';
        const QString path = dir.path() + "/bad.gguf";
        std::ofstream(path.toStdString(), std::ios::binary) << bytes;
        QVERIFY(refused("imatrix", path, {path, "not a GGUF file", "bad magic 'XGUF'"}));
    }

    void refusesTensorTablePastTheEnd()
    {
        QTemporaryDir dir;
        const GgufFixture f = imatrixFixture(drawCounts(2, 1), kChunks, kChunkSize);
        std::string bytes = f.bytes();
        // Cut the file inside the tensor table: the header promises more tensors than follow.
        bytes.resize(bytes.find("blk.1.ffn_gate_exps.weight.counts") + 10);
        const QString path = dir.path() + "/cut.gguf";
        std::ofstream(path.toStdString(), std::ios::binary) << bytes;
        QVERIFY(refused("imatrix", path, {path, "tensor table, tensor", "runs past the end of the file"}));
    }

    void refusesAnotherKindOfGguf()
    {
        QTemporaryDir dir;
        GgufFixture f = imatrixFixture(drawCounts(1, 1), kChunks, kChunkSize);
        f.kvs[0].text = "model";
        const QString path = writeFixture(dir, f, "model.gguf");
        QVERIFY(refused("imatrix", path, {path, "general.type", "is 'model', not 'imatrix'"}));
    }
};

QTEST_GUILESS_MAIN(ImatrixImportTest)
#include "ImatrixImportTest.moc"
