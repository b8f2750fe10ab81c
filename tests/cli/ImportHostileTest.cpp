// Hostile sizes in imported records: files of a few kilobytes whose headers claim
// 10^12 tokens (an .npy shape, an .npz member's size, a Megatron trace line's
// num_tokens, a base64 part's shape, a GGUF tensor's dimensions) or an .npz whose
// entries all inflate one shared block. `moescope import` must refuse each before any
// large allocation: exit 1, a message naming the file, the object and the problem,
// under 10 s and 1 GB (measured on the child), and no output file left behind.
#include "support/GgufFixture.h"
#include "support/MeasuredRun.h"
#include "support/NpyFixture.h"

#include <QDir>
#include <QTemporaryDir>
#include <QtTest>

#include <libdeflate.h>

#include <fstream>
#include <string>
#include <vector>

using namespace moescope::test;

namespace {

constexpr std::uint64_t kTrillion = 1000000000000ULL;

void put(std::string &s, std::uint64_t v, int width)
{
    for (int i = 0; i < width; ++i)
        s += char((v >> (8 * i)) & 0xFF);
}

std::string save(const QTemporaryDir &dir, const char *name, const std::string &bytes)
{
    const std::string path = dir.filePath(name).toStdString();
    std::ofstream(path, std::ios::binary) << bytes;
    return path;
}

// An .npy (format 1.0) whose header says `shape`, followed by `data` only.
std::string npyHeader(const std::string &shape, const std::string &data)
{
    std::string header = "{'descr': '<i2', 'fortran_order': False, 'shape': " + shape + ", }";
    while ((10 + header.size() + 1) % 64 != 0)
        header += ' ';
    header += '\n';
    std::string out("\x93NUMPY\x01\x00", 8);
    put(out, header.size(), 2);
    return out + header + data;
}

// A zip of one local entry and `directoryEntries` central-directory records that all
// point at it (one, for an ordinary archive). `size` is the uncompressed size claimed;
// above 32 bits it goes into a zip64 extra field.
std::string zipOf(const std::string &name, const std::string &packed, std::uint32_t crc, std::uint64_t size,
                  int directoryEntries = 1)
{
    const bool zip64 = size >= 0xFFFFFFFFULL;
    std::string out;
    put(out, 0x04034b50, 4), put(out, 20, 2), put(out, 0, 2), put(out, 8, 2), put(out, 0, 4);
    put(out, crc, 4), put(out, packed.size(), 4), put(out, zip64 ? 0xFFFFFFFFULL : size, 4);
    put(out, name.size(), 2), put(out, 0, 2);
    out += name + packed;
    const std::size_t directoryAt = out.size();
    for (int i = 0; i < directoryEntries; ++i) {
        put(out, 0x02014b50, 4), put(out, 45, 2), put(out, 45, 2), put(out, 0, 2), put(out, 8, 2), put(out, 0, 4);
        put(out, crc, 4), put(out, packed.size(), 4), put(out, zip64 ? 0xFFFFFFFFULL : size, 4);
        put(out, name.size(), 2), put(out, zip64 ? 12 : 0, 2), put(out, 0, 2), put(out, 0, 2), put(out, 0, 2);
        put(out, 0, 4), put(out, 0, 4);
        out += name;
        if (zip64)
            put(out, 0x0001, 2), put(out, 8, 2), put(out, size, 8);
    }
    const std::size_t directorySize = out.size() - directoryAt;
    put(out, 0x06054b50, 4), put(out, 0, 2), put(out, 0, 2), put(out, std::uint64_t(directoryEntries), 2);
    put(out, std::uint64_t(directoryEntries), 2), put(out, directorySize, 4), put(out, directoryAt, 4), put(out, 0, 2);
    return out;
}

std::string rawDeflate(const std::string &data)
{
    libdeflate_compressor *c = libdeflate_alloc_compressor(12);
    std::string packed(libdeflate_deflate_compress_bound(c, data.size()), '\0');
    packed.resize(libdeflate_deflate_compress(c, data.data(), data.size(), packed.data(), packed.size()));
    libdeflate_free_compressor(c);
    return packed;
}

} // namespace

class ImportHostileTest : public QObject {
    Q_OBJECT

    // `moescope import source` refused as the case says, within the bounds, leaving no file.
    void expectRefused(const std::string &source, const char *format, const std::vector<std::string> &fragments)
    {
        QTemporaryDir outDir, logDir;
        const std::string out = outDir.filePath("out.h5").toStdString();
        const Measured m = measure(logDir.path(), {"import", source, "-o", out, "--format", format});
        qInfo("%s: exit %d, %.2f s, peak %ld MB: %s", QTest::currentTestFunction(), m.exitCode, m.seconds,
              m.peakKb / 1024, m.err.c_str());
        QCOMPARE(m.exitCode, 1);
        QVERIFY2(m.err.find(source) != std::string::npos, m.err.c_str());
        for (const std::string &f : fragments)
            QVERIFY2(m.err.find(f) != std::string::npos, (f + " not in: " + m.err).c_str());
        QVERIFY2(m.seconds < 10, m.err.c_str());
        QVERIFY2(m.peakKb < 1024 * 1024, m.err.c_str());
        QVERIFY(QDir(outDir.path()).entryList(QDir::AllEntries | QDir::Hidden | QDir::NoDotAndDotDot).isEmpty());
    }

private slots:
    void initTestCase() { QVERIFY(!qEnvironmentVariable("MOESCOPE_BIN").isEmpty()); }

    void npyShapeOfTenToTheTwelveTokens()
    {
        QTemporaryDir dir;
        const std::string path = save(dir, "r.npy", npyHeader("(1000000000000, 2, 2)", std::string(64, '\1')));
        expectRefused(path, "vllm", {"the array data (8000000000000 bytes", "runs past the end of the file"});
    }

    void npzMemberClaimingTenToTheTwelveBytes()
    {
        QTemporaryDir dir;
        const std::string path = save(dir, "r.npz", zipOf("prompt.npy", std::string(16, '\0'), 0, kTrillion));
        expectRefused(path, "vllm", {"prompt.npy", "claims an uncompressed size the compressed data cannot hold"});
    }

    void npzEntriesSharingOneDeflatedBlock()
    {
        // 1 MB of zeros deflates to about a kilobyte; 2000 directory records pointing
        // at that one block would inflate to 2 GB.
        QTemporaryDir dir;
        const std::string block(1 << 20, '\0');
        const std::string path =
            save(dir, "bomb.npz", zipOf("prompt.npy", rawDeflate(block), crc32(block), block.size(), 2000));
        QVERIFY(QFileInfo(QString::fromStdString(path)).size() < 200000);
        expectRefused(path, "vllm", {"prompt.npy", "shares its bytes with another entry"});
    }

    void traceLineOfTenToTheTwelveTokens()
    {
        QTemporaryDir dir;
        const std::string line = "{\"step\": 0, \"stage\": \"pre_dispatch\", \"block\": \"decoder\", \"layer\": 0, "
                                 "\"rank\": 0, \"num_tokens\": 1000000000000, \"topk\": 2, \"logit_offset\": 0, "
                                 "\"logit_bytes\": 16000000000000, \"logit_shape\": [1000000000000, 8], "
                                 "\"top_indices\": [[1, 2]]}\n";
        const std::string path = save(dir, "router_trace_rank0.jsonl", line);
        save(dir, "logits_rank0.bin", std::string(32, '\0'));
        expectRefused(path, "megatron", {"line 1", "num_tokens 1000000000000 x topk 2 ids cannot fit"});
    }

    void base64ShapeOfTenToTheTwelveTokens()
    {
        QTemporaryDir dir;
        const std::string path = save(dir, "r.json",
                                      "{\"prompt_routed_experts\": {\"data\": \"AQACAAMABAA=\", "
                                      "\"shape\": [1000000000000, 2, 2], \"dtype\": \"int16\"}}");
        expectRefused(path, "vllm", {"prompt_routed_experts", "holds 1 rows but its shape says 1000000000000"});
    }

    void ggufTensorOfTenToTheTwelveElements()
    {
        QTemporaryDir dir;
        GgufFixture f = imatrixFixture({{1, 2, 3, 4}}, 1, 8);
        for (GgufFixtureTensor &t : f.tensors)
            if (t.name == "blk.0.ffn_gate_exps.weight.counts")
                t.dims = {kTrillion};
        const std::string path = save(dir, "m.gguf", f.bytes());
        expectRefused(path, "imatrix",
                      {"tensor 'blk.0.ffn_gate_exps.weight.counts'", "[1000000000000]: more elements than the file"});
    }

    void ggufDimensionsWhoseProductWraps()
    {
        // 2^32 x 2^32 elements: 2^64, which a 64-bit product wraps to 0.
        QTemporaryDir dir;
        GgufFixture f = imatrixFixture({{1, 2, 3, 4}}, 1, 8);
        for (GgufFixtureTensor &t : f.tensors)
            if (t.name == "blk.0.ffn_gate_exps.weight.counts")
                t.dims = {1ULL << 32, 1ULL << 32};
        const std::string path = save(dir, "m.gguf", f.bytes());
        expectRefused(path, "imatrix",
                      {"tensor 'blk.0.ffn_gate_exps.weight.counts'", "[4294967296, 4294967296]: more elements"});
    }
};

QTEST_GUILESS_MAIN(ImportHostileTest)
#include "ImportHostileTest.moc"
