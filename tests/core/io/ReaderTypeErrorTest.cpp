// Dumps whose objects have the right names but the wrong HDF5 kind: attributes of a
// compound, array, enum or string type where a number is expected (and the reverse),
// attributes holding several values or none, datasets of the wrong class or rank, and
// datasets declared far larger than memory. Each is refused with a DumpError naming
// the file, the object and the problem, at opening or at the read that meets it;
// none may escape as another exception (std::length_error, std::bad_alloc) or crash.
#include "io/RoutingDump.h"
#include "support/TempDump.h"

#include <hdf5.h>

#include <QtTest>

#include <functional>

using namespace moescope;
using namespace moescope::test;

namespace {

using Edit = std::function<void(hid_t file)>;

// Writing the broken objects; a failed call fails the test, not the reader.
hid_t must(hid_t id, const char *what)
{
    if (id < 0)
        throw std::runtime_error(std::string("test fixture: HDF5 call failed: ") + what);
    return id;
}

constexpr hsize_t kHuge = hsize_t(1) << 62; // declared, never written: chunked storage stays empty

// Replaces attribute `name` of the object at `path` with one of `type` over `space`.
void putAttribute(hid_t file, const char *path, const char *name, hid_t type, hid_t space, const void *value)
{
    const hid_t object = must(H5Oopen(file, path, H5P_DEFAULT), path);
    if (H5Aexists(object, name) > 0)
        must(H5Adelete(object, name), name);
    const hid_t attr = must(H5Acreate2(object, name, type, space, H5P_DEFAULT, H5P_DEFAULT), name);
    if (value)
        must(H5Awrite(attr, type, value), name);
    H5Aclose(attr);
    H5Oclose(object);
}

void putScalarAttribute(hid_t file, const char *path, const char *name, hid_t type, const void *value)
{
    const hid_t space = H5Screate(H5S_SCALAR);
    putAttribute(file, path, name, type, space, value);
    H5Sclose(space);
}

// Replaces the dataset at `path` (group/name) with one of `type` and `dims`, written
// from `data` when given, else left unwritten and chunked (so any extent is allowed).
void putDataset(hid_t file, const char *path, hid_t type, std::vector<hsize_t> dims, const void *data)
{
    if (H5Lexists(file, path, H5P_DEFAULT) > 0)
        must(H5Ldelete(file, path, H5P_DEFAULT), path);
    const hid_t space = must(dims.empty() ? H5Screate(H5S_SCALAR) : H5Screate_simple(int(dims.size()), dims.data(), nullptr), path);
    const hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    if (!data) {
        std::vector<hsize_t> chunk(dims.size(), 1);
        chunk[0] = 1024;
        must(H5Pset_chunk(dcpl, int(chunk.size()), chunk.data()), path);
    }
    const hid_t ds = must(H5Dcreate2(file, path, type, space, H5P_DEFAULT, dcpl, H5P_DEFAULT), path);
    if (data)
        must(H5Dwrite(ds, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data), path);
    H5Dclose(ds);
    H5Pclose(dcpl);
    H5Sclose(space);
}

hid_t fixedString(std::size_t size)
{
    const hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, size);
    return t;
}

hid_t variableString()
{
    const hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, H5T_VARIABLE);
    return t;
}

hid_t pairCompound()
{
    const hid_t t = H5Tcreate(H5T_COMPOUND, 16);
    H5Tinsert(t, "a", 0, H5T_NATIVE_INT64);
    H5Tinsert(t, "b", 8, H5T_NATIVE_DOUBLE);
    return t;
}

} // namespace

Q_DECLARE_METATYPE(Edit)

class ReaderTypeErrorTest : public QObject {
    Q_OBJECT

    // Opens the dump and reads every part a user's command may read; the DumpError
    // that refuses it, or nothing when all of it was accepted.
    static std::optional<DumpError> refusal(const std::string &path)
    {
        try {
            const RoutingDump dump(path);
            dump.readVocab();
            dump.readTraining();
            std::vector<float> row(std::size_t(dump.info().numExperts));
            for (std::size_t l = 0; l < dump.info().layers.size(); ++l)
                if (dump.info().layers[l].hasLogits)
                    dump.readLogits(l, 0, 1, row.data());
        } catch (const DumpError &e) {
            return e;
        }
        return std::nullopt;
    }

private slots:
    void refused_data()
    {
        QTest::addColumn<Edit>("edit");
        QTest::addColumn<QString>("object");
        QTest::addColumn<QString>("problem");
        auto row = [](const char *name, Edit e, const char *object, const char *problem) {
            QTest::newRow(name) << e << QString(object) << QString(problem);
        };

        // Attributes.
        row("number attribute of a compound type", [](hid_t f) {
            const hid_t t = pairCompound();
            const struct { std::int64_t a; double b; } v{3, 1.0};
            putScalarAttribute(f, "/", "num_experts", t, &v);
            H5Tclose(t);
        }, "/", "'num_experts' must be a number");
        row("number attribute of a string", [](hid_t f) {
            const hid_t t = fixedString(1);
            putScalarAttribute(f, "/", "top_k", t, "2");
            H5Tclose(t);
        }, "/", "'top_k' must be a number");
        row("number attribute of an array type", [](hid_t f) {
            const hsize_t three = 3;
            const hid_t t = H5Tarray_create2(H5T_NATIVE_INT, 1, &three);
            const int v[3] = {3, 3, 3};
            putScalarAttribute(f, "/", "num_experts", t, v);
            H5Tclose(t);
        }, "/", "'num_experts' must be a number");
        row("number attribute of three values", [](hid_t f) {
            const hsize_t three = 3;
            const hid_t space = H5Screate_simple(1, &three, nullptr);
            const std::int64_t v[3] = {1, 1, 1};
            putAttribute(f, "/", "top_k", H5T_NATIVE_INT64, space, v);
            H5Sclose(space);
        }, "/", "'top_k' must hold one value, not 3");
        row("number attribute of no value", [](hid_t f) {
            const hid_t space = H5Screate(H5S_NULL);
            putAttribute(f, "/", "top_k", H5T_NATIVE_INT64, space, nullptr);
            H5Sclose(space);
        }, "/", "'top_k' must hold one value, not 0");
        row("number attribute of an unsigned enum", [](hid_t f) {
            // 50000 in an enum over uint16: the value is 50000, not -15536.
            const hid_t t = H5Tenum_create(H5T_NATIVE_UINT16);
            const std::uint16_t big = 50000;
            H5Tenum_insert(t, "big", &big);
            putScalarAttribute(f, "/", "num_experts", t, &big);
            H5Tclose(t);
        }, "/", "num_experts is 50000,");
        row("layer index of a string", [](hid_t f) {
            const hid_t t = fixedString(5);
            putScalarAttribute(f, "/layers/layer0", "index", t, "first");
            H5Tclose(t);
        }, "/layers/layer0", "'index' must be a number");
        row("string attribute of a number", [](hid_t f) {
            const std::int64_t one = 1;
            putScalarAttribute(f, "/", "format", H5T_NATIVE_INT64, &one);
        }, "/", "'format' must be a string");
        row("string attribute of a compound type", [](hid_t f) {
            const hid_t t = pairCompound();
            const struct { std::int64_t a; double b; } v{1, 1.0};
            putScalarAttribute(f, "/", "scoring", t, &v);
            H5Tclose(t);
        }, "/", "'scoring' must be a string");
        row("string attribute of two strings", [](hid_t f) {
            const hsize_t two = 2;
            const hid_t space = H5Screate_simple(1, &two, nullptr);
            const hid_t t = fixedString(11);
            putAttribute(f, "/", "format", t, space, "moe-routingmoe-routing");
            H5Tclose(t);
            H5Sclose(space);
        }, "/", "'format' must hold one value, not 2");
        row("variable-length string attribute read as such", [](hid_t f) {
            const hid_t t = variableString();
            const char *value = "moe-trace";
            putScalarAttribute(f, "/", "format", t, &value);
            H5Tclose(t);
        }, "/", "'format' is 'moe-trace'");

        // Datasets of the wrong class or rank.
        row("token ids of rank 2", [](hid_t f) {
            const std::int64_t v[6] = {};
            putDataset(f, "/tokens/ids", H5T_NATIVE_INT64, {6, 1}, v);
        }, "/tokens/ids", "has rank 2");
        row("token ids of rank 0", [](hid_t f) {
            const std::int64_t v = 0;
            putDataset(f, "/tokens/ids", H5T_NATIVE_INT64, {}, &v);
        }, "/tokens/ids", "has rank 0");
        row("token ids of floats", [](hid_t f) {
            const double v[6] = {};
            putDataset(f, "/tokens/ids", H5T_NATIVE_DOUBLE, {6}, v);
        }, "/tokens/ids", "must hold integers");
        row("vocab of numbers", [](hid_t f) {
            const std::int64_t v[40] = {};
            putDataset(f, "/tokens/vocab", H5T_NATIVE_INT64, {40}, v);
        }, "/tokens/vocab", "must hold strings");
        row("vocab of rank 2", [](hid_t f) {
            const hid_t t = fixedString(4);
            const std::string v(40 * 4, 'a');
            putDataset(f, "/tokens/vocab", t, {20, 2}, v.data());
            H5Tclose(t);
        }, "/tokens/vocab", "has rank 2");
        row("sequence offsets of floats", [](hid_t f) {
            const double v[2] = {0, 6};
            putDataset(f, "/tokens/sequence_offsets", H5T_NATIVE_DOUBLE, {2}, v);
        }, "/tokens/sequence_offsets", "must hold integers");
        row("sequence offsets of rank 2", [](hid_t f) {
            const std::int64_t v[2] = {0, 6};
            putDataset(f, "/tokens/sequence_offsets", H5T_NATIVE_INT64, {1, 2}, v);
        }, "/tokens/sequence_offsets", "one-dimensional");
        row("sequence labels of numbers", [](hid_t f) {
            const std::int64_t v = 1;
            putDataset(f, "/tokens/sequence_labels", H5T_NATIVE_INT64, {1}, &v);
        }, "/tokens/sequence_labels", "must hold strings");
        row("logits of integers", [](hid_t f) {
            const std::int32_t v[18] = {};
            putDataset(f, "/layers/layer0/logits", H5T_NATIVE_INT32, {6, 3}, v);
        }, "/layers/layer0/logits", "floating-point");
        row("logits of a compound type", [](hid_t f) {
            const hid_t t = pairCompound();
            const std::vector<char> v(18 * 16, 0);
            putDataset(f, "/layers/layer0/logits", t, {6, 3}, v.data());
            H5Tclose(t);
        }, "/layers/layer0/logits", "floating-point");
        row("expert bias of strings", [](hid_t f) {
            const hid_t t = fixedString(2);
            putDataset(f, "/layers/layer0/expert_bias", t, {3}, "a b c ");
            H5Tclose(t);
        }, "/layers/layer0/expert_bias", "must hold numbers");
        row("topk weights of integers", [](hid_t f) {
            const std::int64_t ids[6] = {0, 1, 2, 0, 1, 2};
            putDataset(f, "/layers/layer0/topk_ids", H5T_NATIVE_INT64, {6, 1}, ids);
            putDataset(f, "/layers/layer0/topk_weights", H5T_NATIVE_INT64, {6, 1}, ids);
        }, "/layers/layer0/topk_weights", "must hold floating-point numbers");
        row("training steps of rank 2", [](hid_t f) {
            must(H5Gclose(must(H5Gcreate2(f, "/training", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), "training")), "training");
            const std::int64_t v[2] = {1, 2};
            putDataset(f, "/training/step", H5T_NATIVE_INT64, {1, 2}, v);
        }, "/training/step", "one-dimensional");

        // Declared far larger than any memory (2^62 entries, nothing written).
        row("sequence offsets of 2^62 entries", [](hid_t f) {
            putDataset(f, "/tokens/sequence_offsets", H5T_NATIVE_INT64, {kHuge}, nullptr);
        }, "/tokens/sequence_offsets", "4611686018427387904");
        row("sequence labels of 2^62 entries", [](hid_t f) {
            const hid_t t = variableString();
            putDataset(f, "/tokens/sequence_labels", t, {kHuge}, nullptr);
            H5Tclose(t);
        }, "/tokens/sequence_labels", "4611686018427387904");
        row("vocab of 2^62 entries", [](hid_t f) {
            const hid_t t = variableString();
            putDataset(f, "/tokens/vocab", t, {kHuge}, nullptr);
            H5Tclose(t);
        }, "/tokens/vocab", "4611686018427387904");
        row("training steps of 2^62 entries", [](hid_t f) {
            must(H5Gclose(must(H5Gcreate2(f, "/training", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), "training")), "training");
            putDataset(f, "/training/step", H5T_NATIVE_INT64, {kHuge}, nullptr);
        }, "/training/step", "4611686018427387904");
    }

    void refused()
    {
        QFETCH(Edit, edit);
        QFETCH(QString, object);
        QFETCH(QString, problem);
        QTemporaryDir dir;
        const std::string path = dir.filePath("dump.h5").toStdString();
        randomFixture(6, 3, 1, 1, 31).write(path);
        const hid_t file = H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
        QVERIFY(file >= 0);
        try {
            edit(file);
        } catch (const std::exception &e) {
            H5Fclose(file);
            QFAIL(e.what());
        }
        QVERIFY(H5Fclose(file) >= 0);

        const auto error = refusal(path);
        QVERIFY2(error.has_value(), "the dump was not refused");
        const QString message = error->what();
        QCOMPARE(QString::fromStdString(error->file()), QString::fromStdString(path));
        QCOMPARE(QString::fromStdString(error->object()), object);
        QVERIFY2(message.contains(problem), qPrintable(message));
    }
};

QTEST_GUILESS_MAIN(ReaderTypeErrorTest)
#include "ReaderTypeErrorTest.moc"
