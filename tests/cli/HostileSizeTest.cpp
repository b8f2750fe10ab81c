// Hostile sizes: files of a few kilobytes whose headers claim 2^40 rows, 10^12 steps,
// a billion strings, a gigabyte string or millions of one-value chunks (HDF5 lets a
// chunked dataset declare any extent without storing a byte of it). Each is run
// through `moescope info` and `moescope stats` as a user would run them and must be
// refused with exit code 1 and a message naming the object, in under 10 s and 1 GB.
// E = 4096 with k = 4096 is refused by its top_k (at most 64). Time and peak memory are
// measured on the child (wait4's rusage).
#include <hdf5.h>

#include <QTemporaryDir>
#include <QtTest>

#include "support/MeasuredRun.h"

#include <functional>
#include <numeric>

namespace {

using moescope::test::Measured;
using moescope::test::measure;

void ok(herr_t status) { QVERIFY(status >= 0); }

void numberAttribute(hid_t obj, const char *name, double value)
{
    const hid_t space = H5Screate(H5S_SCALAR);
    const hid_t a = H5Acreate2(obj, name, H5T_NATIVE_DOUBLE, space, H5P_DEFAULT, H5P_DEFAULT);
    ok(H5Awrite(a, H5T_NATIVE_DOUBLE, &value));
    H5Aclose(a);
    H5Sclose(space);
}

void stringAttribute(hid_t obj, const char *name, const char *value)
{
    const hid_t type = H5Tcopy(H5T_C_S1);
    H5Tset_size(type, strlen(value));
    const hid_t space = H5Screate(H5S_SCALAR);
    const hid_t a = H5Acreate2(obj, name, type, space, H5P_DEFAULT, H5P_DEFAULT);
    ok(H5Awrite(a, type, value));
    H5Aclose(a);
    H5Sclose(space);
    H5Tclose(type);
}

// A dataset of extent `dims`, chunked as `chunk` (deflate when `gzip`), nothing
// written unless `data` is given: the file stays tiny whatever it declares.
void dataset(hid_t parent, const char *name, hid_t type, std::vector<hsize_t> dims, std::vector<hsize_t> chunk,
             bool gzip = false, const void *data = nullptr, hid_t memType = -1)
{
    const hid_t space = H5Screate_simple(int(dims.size()), dims.data(), nullptr);
    const hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    if (!chunk.empty())
        ok(H5Pset_chunk(dcpl, int(chunk.size()), chunk.data()));
    if (gzip)
        ok(H5Pset_deflate(dcpl, 1));
    const hid_t ds = H5Dcreate2(parent, name, type, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    QVERIFY(ds >= 0);
    if (data)
        ok(H5Dwrite(ds, memType, H5S_ALL, H5S_ALL, H5P_DEFAULT, data));
    H5Dclose(ds);
    H5Pclose(dcpl);
    H5Sclose(space);
}

// A dump's root and groups; `fill` adds what the case is about.
std::string writeDump(const QTemporaryDir &dir, int experts, int topK, const std::function<void(hid_t)> &fill)
{
    const std::string path = dir.filePath("hostile.h5").toStdString();
    const hid_t f = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    stringAttribute(f, "format", "moe-routing");
    numberAttribute(f, "format_version", 1);
    numberAttribute(f, "num_experts", experts);
    numberAttribute(f, "top_k", topK);
    fill(f);
    H5Fclose(f);
    return path;
}

// An ordinary small /tokens and one layer of logits, for the cases about another object.
void smallTokensAndLayer(hid_t f, hsize_t T = 8, int E = 4)
{
    const hid_t tokens = H5Gcreate2(f, "tokens", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    std::vector<std::int64_t> ids(T, 1);
    dataset(tokens, "ids", H5T_STD_I64LE, {T}, {}, false, ids.data(), H5T_NATIVE_INT64);
    H5Gclose(tokens);
    const hid_t layers = H5Gcreate2(f, "layers", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    const hid_t layer = H5Gcreate2(layers, "00", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    std::vector<float> logits(T * hsize_t(E));
    std::iota(logits.begin(), logits.end(), 0.0f);
    dataset(layer, "logits", H5T_IEEE_F32LE, {T, hsize_t(E)}, {}, false, logits.data(), H5T_NATIVE_FLOAT);
    H5Gclose(layer);
    H5Gclose(layers);
}

} // namespace

class HostileSizeTest : public QObject {
    Q_OBJECT

    // `info` and `stats` both refuse the file: exit 1, the object and `problem` named,
    // within the bounds. Prints the measurements (the closing note's table).
    void expectRefused(const QTemporaryDir &dir, const std::string &path, const char *object, const char *problem)
    {
        for (const char *command : {"info", "stats"}) {
            const Measured m = measure(dir.path(), {command, path});
            qInfo("%s %s: exit %d, %.2f s, peak %ld MB: %s", QTest::currentTestFunction(), command, m.exitCode,
                  m.seconds, m.peakKb / 1024, m.err.c_str());
            QCOMPARE(m.exitCode, 1);
            QVERIFY2(m.err.find(object) != std::string::npos, m.err.c_str());
            QVERIFY2(m.err.find(problem) != std::string::npos, m.err.c_str());
            QVERIFY2(m.seconds < 10, m.err.c_str());
            QVERIFY2(m.peakKb < 1024 * 1024, m.err.c_str());
        }
    }

private slots:
    void initTestCase()
    {
        QVERIFY(!qEnvironmentVariable("MOESCOPE_BIN").isEmpty());
        qputenv("MOESCOPE_NO_CACHE", "1");
    }

    void rowsClaimedTwoToTheForty()
    {
        QTemporaryDir dir;
        const hsize_t T = hsize_t(1) << 40;
        const std::string path = writeDump(dir, 4, 1, [&](hid_t f) {
            const hid_t tokens = H5Gcreate2(f, "tokens", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
            dataset(tokens, "ids", H5T_STD_I64LE, {T}, {1 << 20});
            H5Gclose(tokens);
            const hid_t layers = H5Gcreate2(f, "layers", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
            const hid_t layer = H5Gcreate2(layers, "00", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
            dataset(layer, "logits", H5T_IEEE_F32LE, {T, 4}, {1 << 16, 4}, true);
            H5Gclose(layer);
            H5Gclose(layers);
        });
        QVERIFY(QFileInfo(QString::fromStdString(path)).size() < 100000);
        expectRefused(dir, path, "/tokens/ids", "[1099511627776] values");
    }

    void chunksOfOneValue()
    {
        // 2^23 one-byte ids in 2^23 chunks of one value, compressed: a size the file
        // could hold at deflate's best, but millions of chunk look-ups.
        QTemporaryDir dir;
        const hsize_t T = hsize_t(1) << 23;
        const std::string path = writeDump(dir, 4, 1, [&](hid_t f) {
            const hid_t tokens = H5Gcreate2(f, "tokens", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
            dataset(tokens, "ids", H5T_STD_I8LE, {T}, {1}, true);
            H5Gclose(tokens);
        });
        expectRefused(dir, path, "/tokens/ids", "8388608 chunks of [1]");
    }

    void billionVocabStrings()
    {
        QTemporaryDir dir;
        const std::string path = writeDump(dir, 4, 1, [&](hid_t f) {
            smallTokensAndLayer(f);
            const hid_t tokens = H5Gopen2(f, "tokens", H5P_DEFAULT);
            const hid_t type = H5Tcopy(H5T_C_S1);
            H5Tset_size(type, H5T_VARIABLE);
            dataset(tokens, "vocab", type, {1000000000}, {65536});
            H5Tclose(type);
            H5Gclose(tokens);
        });
        expectRefused(dir, path, "/tokens/vocab", "[1000000000] values");
    }

    void gigabyteVocabString()
    {
        QTemporaryDir dir;
        const std::string path = writeDump(dir, 4, 1, [&](hid_t f) {
            smallTokensAndLayer(f);
            const hid_t tokens = H5Gopen2(f, "tokens", H5P_DEFAULT);
            const hid_t type = H5Tcopy(H5T_C_S1);
            ok(H5Tset_size(type, std::size_t(1) << 30));
            dataset(tokens, "vocab", type, {1}, {1});
            H5Tclose(type);
            H5Gclose(tokens);
        });
        expectRefused(dir, path, "/tokens/vocab", "(1.07 GB)");
    }

    void trainingOfTenToTheTwelveSteps()
    {
        QTemporaryDir dir;
        const std::string path = writeDump(dir, 4, 1, [&](hid_t f) {
            smallTokensAndLayer(f);
            const hid_t training = H5Gcreate2(f, "training", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
            const hsize_t N = 1000000000000ULL;
            dataset(training, "step", H5T_STD_I64LE, {N}, {1 << 20});
            dataset(training, "lb_loss", H5T_IEEE_F32LE, {N, 1}, {1 << 20, 1});
            H5Gclose(training);
        });
        expectRefused(dir, path, "/training/step", "[1000000000000] values");
    }

    void allExpertsChosen()
    {
        // E = 4096, k = 4096: every token chooses every expert. The pair analyses grow
        // with k^2 per token and k x E tables (measured before the limit: 64 tokens
        // took 7 s and 690 MB), so top_k is limited to 64, checked first.
        QTemporaryDir dir;
        const int E = 4096;
        const hsize_t T = 64;
        const std::string path = writeDump(dir, E, E, [&](hid_t f) {
            smallTokensAndLayer(f, T, E);
            const hid_t layer = H5Gopen2(f, "layers/00", H5P_DEFAULT);
            std::vector<std::int32_t> ids(T * E);
            std::vector<float> weights(T * E, 1.0f / E);
            for (hsize_t t = 0; t < T; ++t)
                for (int e = 0; e < E; ++e)
                    ids[t * E + hsize_t(e)] = (e + int(t)) % E;
            dataset(layer, "topk_ids", H5T_STD_I32LE, {T, hsize_t(E)}, {}, false, ids.data(), H5T_NATIVE_INT32);
            dataset(layer, "topk_weights", H5T_IEEE_F32LE, {T, hsize_t(E)}, {}, false, weights.data(),
                    H5T_NATIVE_FLOAT);
            H5Gclose(layer);
        });
        expectRefused(dir, path, "hostile.h5: /: top_k", "top_k is 4096; MoE Scope reads at most 64");
    }
};

QTEST_GUILESS_MAIN(HostileSizeTest)
#include "HostileSizeTest.moc"
