// The reader against dumps written with the HDF5 C API in every storage variant.
#include "io/CompressedChunks.h"
#include "io/Float16.h"
#include "io/Hdf5Objects.h"
#include "io/RoutingDump.h"
#include "support/TempDump.h"
#include "support/Throws.h"

#include <QtTest>

#include <cmath>
#include <cstring>
#include <fstream>

using namespace moescope;
using namespace moescope::test;

Q_DECLARE_METATYPE(moescope::test::StorageOptions)

namespace {
// Rows of compressed storage for a data-driven test: float16/32/64 with deflate alone,
// shuffle alone, both in chunks `splitColumns` wide, and that again big-endian.
void addCompressedRows(int splitColumns)
{
    for (int bits : {16, 32, 64})
        for (int variant = 0; variant < 4; ++variant) {
            StorageOptions s;
            s.floatBits = bits;
            s.bigEndian = variant == 3;
            s.deflate = variant != 1;
            s.shuffle = variant != 0;
            s.chunkColumns = variant >= 2 ? splitColumns : 0;
            QTest::addRow("f%d deflate %d shuffle %d columns %d %s", bits, s.deflate, s.shuffle, s.chunkColumns,
                          s.bigEndian ? "BE" : "LE")
                << s;
        }
}
} // namespace

class ReaderTest : public QObject {
    Q_OBJECT

    static DumpFixture twoLayerFixture()
    {
        DumpFixture f = randomFixture(23, 5, 2, 2, 7);
        f.sequenceOffsets = {0, 10, 10, 23};
        f.sequenceLabels = {"python", "english", "deutsch – äöü"};
        f.vocab[3] = "déf ✓";
        // Layer 1 also records choices and weights; layer 0 only logits.
        for (int t = 0; t < 23; ++t) {
            f.layers[1].topkIds.push_back(t % 5);
            f.layers[1].topkIds.push_back((t + 1) % 5);
            f.layers[1].topkWeights.push_back(0.75f);
            f.layers[1].topkWeights.push_back(0.25f);
        }
        f.layers[0].expertBias = {0.5, -0.25, 0, 0.125, 1};
        return f;
    }

private slots:
    void storageVariants_data()
    {
        QTest::addColumn<StorageOptions>("storage");
        for (int bits : {16, 32, 64})
            for (bool bigEndian : {false, true})
                for (int layout = 0; layout < 3; ++layout) {
                    StorageOptions s;
                    s.floatBits = bits;
                    s.bigEndian = bigEndian;
                    s.chunked = layout >= 1;
                    s.deflate = s.shuffle = layout == 2;
                    s.variableStrings = layout != 1;
                    const char *layoutName[] = {"contiguous", "chunked", "deflate+shuffle"};
                    QTest::addRow("f%d %s %s", bits, bigEndian ? "BE" : "LE", layoutName[layout]) << s;
                }
        // Compressed chunks are inflated by the reader itself (CompressedChunks.h): each
        // filter alone, and chunks that split rows (E = 5 in chunks of 2 columns).
        addCompressedRows(2);
        // Integer widths; compressed ones are inflated and widened by the reader
        // (token ids by IntegerColumn.h, the layers' ids by RoutingDump), either byte order.
        for (int idBits : {8, 16, 32, 64})
            for (bool isUnsigned : {false, true})
                for (int packing = 0; packing < 3; ++packing) {
                    StorageOptions s;
                    s.idBits = idBits;
                    s.idsUnsigned = isUnsigned;
                    s.chunked = true;
                    s.deflate = s.shuffle = packing >= 1;
                    s.bigEndian = packing == 2;
                    const char *packingName[] = {"chunked", "deflate+shuffle", "deflate+shuffle BE"};
                    QTest::addRow("ids %s%d %s", isUnsigned ? "u" : "i", idBits, packingName[packing]) << s;
                }
    }

    // The reader's own inflation of compressed chunks gives the bytes HDF5 gives, for
    // each filter alone and together, rows split over column chunks (64 = 24 + 24 + 16),
    // windows that start and end inside chunks, and the short chunks at the edges.
    void inflatedChunksMatchHdf5_data()
    {
        QTest::addColumn<StorageOptions>("storage");
        addCompressedRows(24); // 64 = 24 + 24 + 16
    }

    void inflatedChunksMatchHdf5()
    {
        QFETCH(StorageOptions, storage);
        const TempDump file(randomFixture(1000, 64, 8, 1, 9), storage);
        auto lock = io::hdf5Lock();
        const io::Handle h(H5Fopen(file.path().c_str(), H5F_ACC_RDONLY, H5P_DEFAULT));
        const io::Handle ds(H5Dopen2(h.get(), "/layers/layer0/logits", H5P_DEFAULT));
        QVERIFY(ds.valid());
        const std::optional<io::ChunkLayout> layout = io::compressedLayout(ds.get());
        QVERIFY(layout);
        const std::string summary = RoutingDump(file.path()).info().layers[0].logitsStorage; // what `info` says
        QVERIFY2(summary.starts_with("chunks of ") && summary.ends_with(", inflated on every core"), summary.c_str());
        const std::size_t rowBytes = 64 * std::size_t(storage.floatBits / 8);
        const io::Handle fileType(H5Dget_type(ds.get()));
        for (const auto &[begin, count] : {std::pair(0, 1000), std::pair(3, 500), std::pair(997, 3), std::pair(6, 1)}) {
            std::vector<unsigned char> mine(std::size_t(count) * rowBytes), theirs(mine.size());
            QVERIFY(io::readCompressedRows(ds.get(), *layout, std::uint64_t(begin), std::uint64_t(count), mine.data()));
            // The same in batches of a few chunks.
            std::vector<unsigned char> batched(mine.size());
            QVERIFY(io::readCompressedRows(ds.get(), *layout, std::uint64_t(begin), std::uint64_t(count),
                                           batched.data(), 3 * layout->chunkBytes()));
            QVERIFY(batched == mine);
            io::readRows(ds.get(), {file.path(), "logits"}, fileType.get(), std::uint64_t(begin), std::uint64_t(count),
                         theirs.data());
            QVERIFY2(mine == theirs, qPrintable(QString("rows %1 + %2").arg(begin).arg(count)));
        }
    }

    // Only deflate and shuffle are undone by the reader: plain chunks stay with HDF5.
    void plainChunksStayWithHdf5()
    {
        StorageOptions chunked;
        chunked.chunked = true;
        const TempDump file(randomFixture(100, 8, 2, 1, 3), chunked);
        auto lock = io::hdf5Lock();
        const io::Handle h(H5Fopen(file.path().c_str(), H5F_ACC_RDONLY, H5P_DEFAULT));
        const io::Handle ds(H5Dopen2(h.get(), "/layers/layer0/logits", H5P_DEFAULT));
        QVERIFY(!io::compressedLayout(ds.get()));
        QCOMPARE(io::storageSummary(ds.get(), false), std::string("chunks of 7 x 8"));
    }

    // Edge chunks stored unfiltered (an option of newer files) look filtered to a raw
    // read: such datasets stay with HDF5.
    void unfilteredEdgeChunksStayWithHdf5()
    {
        QTemporaryDir dir;
        const std::string path = (dir.path() + "/edges.h5").toStdString();
        auto lock = io::hdf5Lock();
        const io::Handle access(H5Pcreate(H5P_FILE_ACCESS));
        H5Pset_libver_bounds(access.get(), H5F_LIBVER_LATEST, H5F_LIBVER_LATEST);
        const io::Handle file(H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, access.get()));
        const hsize_t dims[2] = {100, 8}, chunk[2] = {64, 3};
        const io::Handle space(H5Screate_simple(2, dims, nullptr));
        for (const bool partialUnfiltered : {false, true}) {
            const io::Handle create(H5Pcreate(H5P_DATASET_CREATE));
            H5Pset_chunk(create.get(), 2, chunk);
            H5Pset_shuffle(create.get());
            if (partialUnfiltered)
                QVERIFY(H5Pset_chunk_opts(create.get(), H5D_CHUNK_DONT_FILTER_PARTIAL_CHUNKS) >= 0);
            const io::Handle ds(H5Dcreate2(file.get(), partialUnfiltered ? "edges" : "plain", H5T_IEEE_F32LE,
                                           space.get(), H5P_DEFAULT, create.get(), H5P_DEFAULT));
            QVERIFY(ds.valid());
            QCOMPARE(io::compressedLayout(ds.get()).has_value(), !partialUnfiltered);
            const bool inflated = io::compressedLayout(ds.get()).has_value();
            QCOMPARE(io::storageSummary(ds.get(), inflated), std::string("chunks of 64 x 3, shuffle, ") +
                                                                  (partialUnfiltered ? "decoded by HDF5" : "inflated on every core"));
        }
    }

    // A chunk whose compressed bytes are damaged: the reader's inflation declines it,
    // HDF5 then reports it, and the error names the file and the dataset.
    void damagedChunkIsAnError()
    {
        StorageOptions gz;
        gz.deflate = gz.shuffle = true;
        const DumpFixture f = randomFixture(6000, 16, 2, 1, 4); // past the rows read on opening
        const TempDump file(f, gz);
        haddr_t address = 0;
        hsize_t size = 0;
        {
            auto lock = io::hdf5Lock();
            const io::Handle h(H5Fopen(file.path().c_str(), H5F_ACC_RDONLY, H5P_DEFAULT));
            const io::Handle ds(H5Dopen2(h.get(), "/layers/layer0/logits", H5P_DEFAULT));
            const hsize_t at[2] = {5005, 0};
            unsigned mask = 0;
            QVERIFY(H5Dget_chunk_info_by_coord(ds.get(), at, &mask, &address, &size) >= 0);
            QVERIFY(size > 8);
        }
        {
            std::fstream out(file.path(), std::ios::in | std::ios::out | std::ios::binary);
            out.seekp(std::streamoff(address + size / 2));
            const char junk[4] = {'\x13', '\x37', '\x7f', '\x00'};
            out.write(junk, 4);
        }
        const RoutingDump dump(file.path());
        std::vector<float> rows(100 * 16);
        QVERIFY(throws<DumpError>([&] { dump.readLogits(0, 5000, 100, rows.data()); }));
        std::string message;
        try {
            dump.readLogits(0, 5000, 100, rows.data());
        } catch (const DumpError &e) {
            message = e.what();
        }
        QVERIFY2(message.find("/layers/layer0/logits") != std::string::npos, message.c_str());
        // Rows in undamaged chunks still read.
        dump.readLogits(0, 200, 100, rows.data());
        QCOMPARE(rows[0], f.layers[0].logits[200 * 16]);
    }

    void storageVariants()
    {
        QFETCH(StorageOptions, storage);
        const DumpFixture f = twoLayerFixture();
        const TempDump file(f, storage);
        const RoutingDump dump(file.path());
        const DumpInfo &info = dump.info();
        QCOMPARE(info.numTokens, 23);
        QCOMPARE(info.numExperts, 5);
        QCOMPARE(info.topK, 2);
        QCOMPARE(info.layers.size(), std::size_t(2));
        QCOMPARE(info.sequenceOffsets, f.sequenceOffsets);
        QCOMPARE(info.sequenceLabels, f.sequenceLabels);
        QCOMPARE(dump.readVocab(), f.vocab);
        QCOMPARE(dump.readTokenIds(0, 23), f.tokenIds);
        QCOMPARE(dump.readTokenIds(5, 3), std::vector<std::int64_t>(f.tokenIds.begin() + 5, f.tokenIds.begin() + 8));

        // Logits, read in a window that straddles chunk boundaries.
        std::vector<float> got(11 * 5);
        dump.readLogits(0, 6, 11, got.data());
        for (int i = 0; i < 11 * 5; ++i) {
            const float written = f.layers[0].logits[6 * 5 + i];
            const float expected = storage.floatBits == 16 ? halfToFloat(floatToHalf(written)) : written;
            QCOMPARE(got[i], expected);
        }
        // Halves in place: mapped when stored plainly (contiguous, host byte order),
        // with the bits a read gives, from a row that does not start a page; otherwise
        // nothing, and the pass reads them.
        if (storage.floatBits == 16) {
            const io::MappedRows mapped = dump.mapHalves(0, 6, 11);
            const bool plain = !storage.chunked && !storage.deflate && !storage.shuffle && !storage.bigEndian;
            QCOMPARE(!mapped.empty(), plain);
            if (plain) {
                std::vector<std::uint16_t> halves(11 * 5);
                dump.readLogits(0, 6, 11, halves.data());
                QVERIFY(std::memcmp(mapped.data(), halves.data(), halves.size() * 2) == 0);
            }
        } else {
            QVERIFY(dump.mapHalves(0, 0, 23).empty());
        }
        QVERIFY(throws<DumpError>([&] { dump.mapHalves(0, 20, 4); }));

        std::vector<double> wide(23 * 5);
        dump.readLogits(1, 0, 23, wide.data());
        if (storage.floatBits != 16)
            QCOMPARE(wide[17], double(f.layers[1].logits[17]));

        std::vector<std::int32_t> ids(23 * 2);
        dump.readTopkIds(1, 0, 23, ids.data());
        for (int i = 0; i < 46; ++i)
            QCOMPARE(std::int64_t(ids[i]), f.layers[1].topkIds[i]);
        std::vector<float> weights(2 * 2);
        dump.readTopkWeights(1, 4, 2, weights.data());
        QCOMPARE(weights, (std::vector<float>{0.75f, 0.25f, 0.75f, 0.25f}));
        QCOMPARE(info.layers[0].expertBias, f.layers[0].expertBias);
        QVERIFY(info.layers[1].hasTopkWeights && !info.layers[0].hasTopkIds);
        QVERIFY(info.warnings.empty());
    }

    void rootAttributes()
    {
        DumpFixture f = randomFixture(8, 8, 2, 1, 1);
        f.numberAttributes = {{"normalize_topk", 0}, {"n_group", 4}, {"topk_group", 2},
                              {"routed_scaling_factor", 2.5}, {"capacity_factor", 1.5}, {"checkpoint_step", 1200}};
        f.stringAttributes = {{"scoring", "sigmoid"}, {"model", "tiny-moe"}, {"checkpoint", "ckpt-β"}};
        const TempDump file(f);
        const RoutingDump dump(file.path()); // info() refers into the dump: keep it open
        const DumpInfo &info = dump.info();
        QCOMPARE(info.scoring, Scoring::Sigmoid);
        QCOMPARE(info.normalizeTopK, false);
        QCOMPARE(info.numGroups, 4);
        QCOMPARE(info.topKGroups, 2);
        QCOMPARE(info.routedScalingFactor, 2.5);
        QCOMPARE(info.capacityFactor, 1.5);
        QCOMPARE(info.model, std::string("tiny-moe"));
        QCOMPARE(info.checkpoint, std::string("ckpt-β"));
        QCOMPARE(*info.checkpointStep, 1200);
        const RoutingRules rules = info.routingRules(0);
        QVERIFY(rules.groupLimited());
        QCOMPARE(rules.topK, 2);
    }

    void defaultsWithoutOptionalObjects()
    {
        DumpFixture f = randomFixture(6, 3, 1, 1, 2);
        f.vocab.clear();
        const TempDump file(f);
        const RoutingDump dump(file.path());
        QCOMPARE(dump.info().sequenceOffsets, (std::vector<std::int64_t>{0, 6}));
        QVERIFY(dump.info().sequenceLabels.empty());
        QCOMPARE(dump.info().scoring, Scoring::Softmax);
        QCOMPARE(dump.info().normalizeTopK, true);
        QVERIFY(dump.readVocab().empty());
        QCOMPARE(tokenText({}, 42), std::string("#42"));
    }

    void layerOrder_data()
    {
        QTest::addColumn<bool>("allIndexed");
        QTest::addColumn<QStringList>("expected");
        QTest::newRow("by index") << true << QStringList{"b", "c", "a"};
        QTest::newRow("by name when an index is missing") << false << QStringList{"a", "b", "c"};
    }

    void layerOrder()
    {
        QFETCH(bool, allIndexed);
        QFETCH(QStringList, expected);
        DumpFixture f = randomFixture(4, 2, 1, 3, 3);
        f.layers[0].name = "a";
        f.layers[0].index = 9;
        f.layers[1].name = "b";
        f.layers[1].index = 1;
        f.layers[2].name = "c";
        f.layers[2].index = allIndexed ? std::optional<std::int64_t>(5) : std::nullopt;
        const TempDump file(f);
        const RoutingDump dump(file.path());
        QStringList names;
        for (const auto &l : dump.info().layers)
            names << QString::fromStdString(l.name);
        QCOMPARE(names, expected);
    }

    void topkOnlyLayer()
    {
        DumpFixture f = randomFixture(5, 4, 1, 1, 4);
        f.layers[0].logits.clear();
        f.layers[0].topkIds = {0, 1, 2, 3, 3};
        const TempDump file(f);
        const RoutingDump dump(file.path());
        QVERIFY(!dump.info().layers[0].hasLogits);
        std::vector<float> out(20);
        QVERIFY(throws<DumpError>([&] { dump.readLogits(0, 0, 5, out.data()); }));
    }

    void probabilitiesAreDetected()
    {
        DumpFixture f = randomFixture(10, 4, 1, 2, 5);
        for (int t = 0; t < 10; ++t)
            for (int e = 0; e < 4; ++e)
                f.layers[1].logits[t * 4 + e] = e == t % 4 ? 0.7f : 0.1f;
        const TempDump file(f);
        const RoutingDump dump(file.path());
        QVERIFY(!dump.info().layers[0].logitsAreProbabilities);
        QVERIFY(dump.info().layers[1].logitsAreProbabilities);
        QCOMPARE(dump.info().warnings.size(), std::size_t(1));
        QVERIFY(QString::fromStdString(dump.info().warnings[0]).contains("/layers/layer1/logits"));
        QVERIFY(dump.info().routingRules(1).inputsAreProbabilities);
    }

    void training()
    {
        DumpFixture f = randomFixture(4, 2, 1, 2, 6);
        f.trainingSteps = {100, 200, 300};
        f.trainingLb = {1.1, 1.2, 1.3, 1.4, 1.5, 1.6};
        f.trainingZ = {0.1, 0.2, 0.3, 0.4, 0.5, 0.6};
        f.trainingTokens = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
        const TempDump file(f);
        const RoutingDump dump(file.path());
        QVERIFY(dump.info().hasTraining);
        const TrainingSeries s = dump.readTraining();
        QCOMPARE(s.steps, f.trainingSteps);
        QCOMPARE(s.numLayers, std::size_t(2));
        QCOMPARE(s.lbLoss.size(), std::size_t(6));
        QCOMPARE(float(s.lbLoss[4]), 1.5f);
        QCOMPARE(float(s.zLoss[1]), 0.2f);
        QCOMPARE(s.tokensPerExpert, f.trainingTokens);
    }

    void halfConversion()
    {
        QCOMPARE(halfToFloat(0x3c00), 1.0f);
        QCOMPARE(halfToFloat(0xc000), -2.0f);
        QCOMPARE(halfToFloat(0x7bff), 65504.0f);
        QCOMPARE(halfToFloat(0x0001), std::ldexp(1.0f, -24));
        QVERIFY(std::isinf(halfToFloat(0x7c00)));
        QVERIFY(std::isnan(halfToFloat(0x7e00)));
        // The vector path agrees with the scalar one on every half.
        std::vector<std::uint16_t> all(65536);
        for (int i = 0; i < 65536; ++i)
            all[i] = std::uint16_t(i);
        std::vector<float> out(65536);
        halvesToFloats(all.data(), out.data(), all.size());
        for (int i = 0; i < 65536; ++i) {
            const float s = halfToFloat(std::uint16_t(i));
            QVERIFY2((std::isnan(s) && std::isnan(out[i])) || s == out[i], qPrintable(QString::number(i)));
        }
    }

    void openedReadOnly()
    {
        const TempDump file(randomFixture(4, 2, 1, 1, 8));
        QFile::setPermissions(file.qpath(), QFileDevice::ReadOwner | QFileDevice::ReadGroup);
        const QByteArray before = [&] { QFile f(file.qpath()); f.open(QIODevice::ReadOnly); return f.readAll(); }();
        {
            const RoutingDump dump(file.path());
            QCOMPARE(dump.info().numTokens, 4);
        }
        QFile after(file.qpath());
        QVERIFY(after.open(QIODevice::ReadOnly));
        QCOMPARE(after.readAll(), before);
    }
};

QTEST_GUILESS_MAIN(ReaderTest)
#include "ReaderTest.moc"
