// The vLLM importer on files written here byte by byte the way numpy and vLLM write
// them: .npy (format 1.0: magic, version, header length, a padded dict header, the
// data; little- and big-endian, C and Fortran order), .npz (a zip of .npy entries,
// stored), and JSON (nested lists, base64 of little-endian int16). What numpy itself
// writes (np.save, np.savez, np.savez_compressed) is checked in tools/tests.
#include "core/import/ImportTestSupport.h"
#include "support/NpyFixture.h"
#include "io/OpenDump.h"

#include <QtTest>

#include <algorithm>
#include <fstream>
#include <numeric>
#include <random>

using namespace moescope;
using namespace moescope::test;

namespace {

constexpr int kL = 2, kK = 2, kE = 6;

// [tokens][L][k] distinct experts per token and layer.
std::vector<std::int64_t> draw(int tokens, unsigned seed)
{
    std::mt19937 rng(seed);
    std::vector<std::int64_t> out;
    for (int t = 0; t < tokens * kL; ++t) {
        std::vector<std::int64_t> order(kE);
        std::iota(order.begin(), order.end(), 0);
        std::shuffle(order.begin(), order.end(), rng);
        out.insert(out.end(), order.begin(), order.begin() + kK);
    }
    return out;
}

QString save(const QTemporaryDir &dir, const QString &name, const std::string &bytes)
{
    const QString path = dir.path() + "/" + name;
    std::ofstream(path.toStdString(), std::ios::binary) << bytes;
    return path;
}

std::vector<std::int32_t> layerChoices(const std::vector<std::int64_t> &experts, int layer)
{
    std::vector<std::int32_t> out;
    for (std::size_t i = 0; i < experts.size(); ++i)
        if (int(i / kK % kL) == layer)
            out.push_back(std::int32_t(experts[i]));
    return out;
}

void checkDump(const QString &path, const std::vector<std::int64_t> &experts,
               std::vector<std::int64_t> offsets)
{
    const auto dump = openDump(path.toStdString());
    const DumpInfo &info = dump->info();
    QCOMPARE(info.topK, kK);
    QCOMPARE(info.sequenceOffsets, offsets);
    const auto tokens = std::uint64_t(offsets.back());
    for (int l = 0; l < kL; ++l) {
        QCOMPARE(QString::fromStdString(info.layers[std::size_t(l)].name), QString("0%1").arg(l));
        std::vector<std::int32_t> got(tokens * kK);
        dump->readTopkIds(std::size_t(l), 0, tokens, got.data());
        QCOMPARE(got, layerChoices(experts, l));
    }
}

import::ImportOptions experts(int e){import::ImportOptions o;
o.numExperts = e;
return o;
} // namespace

} // namespace

class VllmImportTest : public QObject {
    Q_OBJECT

private slots:
    void npyInEveryByteOrderAndLayout()
    {
        QTemporaryDir dir;
        const std::vector<std::int64_t> e = draw(5, 1);
        for (const auto &[descr, fortran] : {std::pair{"<i2", false}, {">i4", false}, {"<i8", true}}) {
            const QString source = save(dir, "r.npy", npy(e, {5, kL, kK}, descr, fortran));
            const QString out = dir.path() + "/out.h5";
            QFile::remove(out);
            runImport("vllm", source, out, experts(kE));
            checkDump(out, e, {0, 5});
        }
    }

    void storedNpzOfRequestsWithTokenIds()
    {
        QTemporaryDir dir;
        const std::vector<std::int64_t> a = draw(3, 2), b = draw(4, 3);
        const QString source = save(dir, "r.npz",
                                    zip({{"a.npy", npy(a, {3, kL, kK}, "<i2")},
                                         {"b.npy", npy(b, {4, kL, kK}, "<i2")},
                                         {"b_token_ids.npy", npy({7, 8, 9, 10}, {4}, "<i8")}}));
        const QString out = dir.path() + "/out.h5";
        const auto result = runImport("vllm", source, out, experts(kE));
        std::vector<std::int64_t> both = a;
        both.insert(both.end(), b.begin(), b.end());
        checkDump(out, both, {0, 3, 7});
        // Only one request has ids: every id is written as 0, with a warning.
        QVERIFY(!result.warnings.empty());
        QCOMPARE(openDump(out.toStdString())->info().sequenceLabels, (std::vector<std::string>{"a", "b"}));
    }

    void jsonBase64TakesItsShapeFromThePrompt()
    {
        QTemporaryDir dir;
        const std::vector<std::int64_t> prompt = draw(2, 4), gen = draw(3, 5);
        std::string lists = "[";
        for (int t = 0; t < 2; ++t) {
            lists += t ? ",[" : "[";
            for (int l = 0; l < kL; ++l)
                lists += (l ? ",[" : "[") + std::to_string(prompt[std::size_t((t * kL + l) * kK)]) + "," +
                         std::to_string(prompt[std::size_t((t * kL + l) * kK + 1)]) + "]";
            lists += "]";
        }
        lists += "]";
        std::string raw;
        for (std::int64_t v : gen)
            raw += char(v & 0xFF), raw += char((v >> 8) & 0xFF);
        const QString json =
            QString("{\"prompt_routed_experts\": %1, \"prompt_token_ids\": [1, 2],"
                    " \"choices\": [{\"routed_experts\": \"%2\", \"token_ids\": [3, 4, 5, 6]}]}")
                .arg(QString::fromStdString(lists), QString(QByteArray::fromStdString(raw).toBase64()));
        const QString source = save(dir, "resp.json", json.toStdString());
        const QString out = dir.path() + "/out.h5";
        runImport("vllm", source, out, experts(kE));
        std::vector<std::int64_t> all = prompt;
        all.insert(all.end(), gen.begin(), gen.end());
        checkDump(out, all, {0, 5});
        QCOMPARE(openDump(out.toStdString())->readTokenIds(0, 5), (std::vector<std::int64_t>{1, 2, 3, 4, 5}));
    }

    void refusesDamagedInput()
    {
        QTemporaryDir dir;
        const std::string good = npy(draw(2, 6), {2, kL, kK}, "<i2");
        QString p = save(dir, "crc.npz", zip({{"prompt.npy", good}}, true));
        QVERIFY(refused("vllm", p, {p, "prompt.npy", "CRC-32 does not match"}));
        std::string cut = zip({{"prompt.npy", good}});
        cut.resize(cut.size() / 2);
        p = save(dir, "cut.npz", cut);
        QVERIFY(refused("vllm", p, {p, "not a zip archive"}));
        p = save(dir, "short.npy", good.substr(0, good.size() - 3));
        QVERIFY(refused("vllm", p, {p, "runs past the end of the file"}));
        p = save(dir, "cut.json", "{\"prompt_routed_experts\": [[[1, 2], [3, 4]],\n [[1, 2]");
        QVERIFY(refused("vllm", p, {p, "line 2", "malformed JSON"}));
        p = save(dir, "twice.npy", npy({1, 1, 2, 3}, {1, kL, kK}, "<i2"));
        QVERIFY(refused("vllm", p, {p, "token 0, layer 0", "chooses expert 1 twice"}, experts(kE)));
        p = save(dir, "float.npz", zip({{"prompt.npy", npy({0, 0, 0, 0}, {1, kL, kK}, "<f8")}}));
        QVERIFY(refused("vllm", p, {p, "array 'prompt'", "<f8", "integers are expected"}));
    }
};

QTEST_GUILESS_MAIN(VllmImportTest)
#include "VllmImportTest.moc"
