// The Megatron-Core router trace importer on traces written the way router_trace.py
// writes them (support/MegatronFixture.h): layers, sequences, choices put best first
// by the bfloat16 logits, the logits themselves, E from each source, and every
// refused trace (file, line and problem named, no file left).
#include "import/ImportFormats.h"
#include "io/OpenDump.h"
#include "support/MegatronFixture.h"
#include "support/Throws.h"
#include "core/import/ImportTestSupport.h"

#include <QtTest>

#include <algorithm>
#include <numeric>
#include <random>

using namespace moescope;
using namespace moescope::test;

namespace {

constexpr int kE = 8, kK = 2;

struct Trace {
    std::vector<TraceCall> calls;
    // Expected, in dump order: the (step, rank, call) sequences and the layers' calls.
    std::vector<std::string> labels;
    std::vector<std::int64_t> offsets{0};
};

const std::vector<std::pair<std::string, std::pair<int, int>>> kLayers = {
    {"decoder.0", {-1, 0}}, {"decoder.1", {-1, 1}}, {"decoder.2", {-1, 2}}, {"mtp.0.0", {0, 0}}};

// Two steps; rank 0 runs two microbatches per step, rank 1 one; every call visits the
// decoder layers and then the MTP layer, as Megatron's forward does. The recorded
// choices are the top-k of the bfloat16 logits in ascending id order (training).
Trace makeTrace(bool logits, unsigned seed)
{
    std::mt19937 rng(seed);
    std::normal_distribution<float> normal(0.f, 2.f);
    std::uniform_int_distribution<int> tokens(3, 6);
    Trace t;
    for (int step : {3, 4})
        for (int rank : {0, 1})
            for (int call = 0; call < (rank == 0 ? 2 : 1); ++call) {
                const int n = tokens(rng);
                for (const auto &[name, where] : kLayers) {
                    TraceCall c;
                    c.step = step;
                    c.rank = rank;
                    c.block = where.first < 0 ? "decoder" : "mtp";
                    c.mtpIdx = where.first;
                    c.layer = where.second;
                    c.numExperts = kE;
                    for (int i = 0; i < n; ++i) {
                        std::vector<float> z(kE);
                        for (float &v : z)
                            v = normal(rng);
                        std::vector<std::int64_t> order(kE);
                        std::iota(order.begin(), order.end(), 0);
                        std::sort(order.begin(), order.end(), [&](auto a, auto b) {
                            return bf16ToFloat(floatToBf16(z[a])) > bf16ToFloat(floatToBf16(z[b]));
                        });
                        std::vector<std::int64_t> chosen(order.begin(), order.begin() + kK);
                        std::sort(chosen.begin(), chosen.end());
                        c.topIndices.push_back(chosen);
                        if (logits)
                            c.logits.insert(c.logits.end(), z.begin(), z.end());
                    }
                    t.calls.push_back(c);
                }
                (void)call;
            }
    // Sequences in (step, rank, call) order: the calls were made in that order.
    for (std::size_t i = 0; i < t.calls.size(); i += kLayers.size()) {
        t.labels.push_back("step " + std::to_string(t.calls[i].step) + " rank " + std::to_string(t.calls[i].rank));
        t.offsets.push_back(t.offsets.back() + std::int64_t(t.calls[i].topIndices.size()));
    }
    return t;
}

// The calls of one layer in dump order.
std::vector<const TraceCall *> callsOf(const Trace &t, std::size_t layer)
{
    std::vector<const TraceCall *> out;
    for (std::size_t i = layer; i < t.calls.size(); i += kLayers.size())
        out.push_back(&t.calls[i]);
    return out;
}

} // namespace

class MegatronTraceTest : public QObject {
    Q_OBJECT

private slots:
    void detectsTheTraceFolder()
    {
        QTemporaryDir dir;
        writeRouterTrace(dir.path().toStdString(), makeTrace(false, 1).calls);
        QCOMPARE(QString::fromStdString(import::detectImportFormat(dir.path().toStdString()).name), QString("megatron"));
        QCOMPARE(QString::fromStdString(
                     import::detectImportFormat((dir.path() + "/router_trace_rank1.jsonl").toStdString()).name),
                 QString("megatron"));
    }

    // Layers, sequences, logits (exactly the bfloat16 values) and the choices best first.
    void importsLogitsAndChoices()
    {
        QTemporaryDir dir;
        const Trace t = makeTrace(true, 7);
        writeRouterTrace(dir.path().toStdString(), t.calls);
        const QString out = dir.path() + "/out.h5";
        const auto result = runImport("megatron", dir.path(), out);
        QVERIFY(result.warnings.empty());

        const auto dump = openDump(out.toStdString());
        const DumpInfo &info = dump->info();
        QCOMPARE(info.numExperts, kE);
        QCOMPARE(info.topK, kK);
        QCOMPARE(info.numTokens, t.offsets.back());
        QCOMPARE(info.sequenceOffsets, t.offsets);
        QCOMPARE(info.sequenceLabels, t.labels);
        QCOMPARE(info.layers.size(), kLayers.size());
        for (std::size_t l = 0; l < kLayers.size(); ++l) {
            const LayerInfo &layer = info.layers[l];
            QCOMPARE(QString::fromStdString(layer.name), QString::fromStdString(kLayers[l].first));
            QVERIFY(layer.hasLogits && layer.hasTopkIds);
            std::vector<float> z(std::size_t(info.numTokens) * kE);
            std::vector<std::int32_t> ids(std::size_t(info.numTokens) * kK);
            dump->readLogits(l, 0, std::uint64_t(info.numTokens), z.data());
            dump->readTopkIds(l, 0, std::uint64_t(info.numTokens), ids.data());
            std::size_t row = 0;
            for (const TraceCall *c : callsOf(t, l))
                for (std::size_t i = 0; i < c->topIndices.size(); ++i, ++row) {
                    std::vector<float> expected(kE);
                    for (int e = 0; e < kE; ++e) {
                        expected[e] = bf16ToFloat(floatToBf16(c->logits[i * kE + e]));
                        QCOMPARE(z[row * kE + e], expected[e]); // exact: bfloat16 fits in float32
                    }
                    std::vector<std::int64_t> best = c->topIndices[i];
                    std::stable_sort(best.begin(), best.end(),
                                     [&](auto a, auto b) { return expected[a] > expected[b]; });
                    for (int s = 0; s < kK; ++s)
                        QCOMPARE(std::int64_t(ids[row * kK + s]), best[s]);
                }
            QCOMPARE(row, std::size_t(info.numTokens));
        }
        QCOMPARE(QString::fromStdString(info.model), QString());
    }

    // Without logits: --num-experts, else 1 + the largest id with a warning; the
    // recorded order is kept; --step keeps one step.
    void expertsWithoutLogitsAndOneStep()
    {
        QTemporaryDir dir;
        const Trace t = makeTrace(false, 11);
        writeRouterTrace(dir.path().toStdString(), t.calls);
        std::int64_t largest = 0;
        for (const TraceCall &c : t.calls)
            for (const auto &row : c.topIndices)
                largest = std::max(largest, *std::max_element(row.begin(), row.end()));

        const auto guessed = runImport("megatron", dir.path(), dir.path() + "/a.h5");
        QCOMPARE(guessed.warnings.size(), std::size_t(1));
        QVERIFY(QString::fromStdString(guessed.warnings[0]).contains("--num-experts"));
        QCOMPARE(openDump((dir.path() + "/a.h5").toStdString())->info().numExperts, int(largest + 1));

        import::ImportOptions options;
        options.numExperts = 64;
        options.values["step"] = "4";
        runImport("megatron", dir.path(), dir.path() + "/b.h5", options);
        const auto dump = openDump((dir.path() + "/b.h5").toStdString());
        QCOMPARE(dump->info().numExperts, 64);
        QCOMPARE(dump->info().checkpointStep.value_or(-1), std::int64_t(4));
        // Step 4 is the second half of the sequences.
        const std::size_t half = t.labels.size() / 2;
        QCOMPARE(dump->info().sequenceLabels, std::vector<std::string>(t.labels.begin() + long(half), t.labels.end()));
        std::vector<std::int32_t> ids(std::size_t(dump->info().numTokens) * kK);
        dump->readTopkIds(1, 0, std::uint64_t(dump->info().numTokens), ids.data());
        std::size_t row = 0;
        for (const TraceCall *c : callsOf(t, 1))
            if (c->step == 4)
                for (const auto &r : c->topIndices) {
                    for (int s = 0; s < kK; ++s)
                        QCOMPARE(std::int64_t(ids[row * kK + s]), r[s]);
                    ++row;
                }
        QCOMPARE(row, std::size_t(dump->info().numTokens));
    }

    // The same trace written compactly (no spaces) or with other spacing reads the same:
    // the parser's fast way for json.dumps' layout and its careful way agree.
    void otherSpacingReadsTheSame()
    {
        QTemporaryDir dir;
        writeRouterTrace(dir.path().toStdString(), makeTrace(false, 9).calls);
        QTemporaryDir other;
        for (const QString &name : QDir(dir.path()).entryList({"*.jsonl"})) {
            QFile in(dir.path() + "/" + name), out(other.path() + "/" + name);
            QVERIFY(in.open(QIODevice::ReadOnly) && out.open(QIODevice::WriteOnly));
            QByteArray text = in.readAll();
            int line = 0;
            QByteArray changed;
            for (const QByteArray &l : text.split('\n'))
                changed += (line++ % 2 ? QByteArray(l).replace(", ", ",").replace(": ", ":")
                                       : QByteArray(l).replace("], [", "] ,[ ")) + "\n";
            out.write(changed.chopped(1));
        }
        import::ImportOptions options;
        options.numExperts = kE;
        runImport("megatron", dir.path(), dir.path() + "/a.h5", options);
        runImport("megatron", other.path(), other.path() + "/b.h5", options);
        const auto a = openDump((dir.path() + "/a.h5").toStdString()), b = openDump((other.path() + "/b.h5").toStdString());
        QCOMPARE(a->info().numTokens, b->info().numTokens);
        const auto T = std::uint64_t(a->info().numTokens);
        for (std::size_t l = 0; l < kLayers.size(); ++l) {
            std::vector<std::int32_t> x(T * kK), y(T * kK);
            a->readTopkIds(l, 0, T, x.data());
            b->readTopkIds(l, 0, T, y.data());
            QCOMPARE(x, y);
        }
    }

    // Pipeline stages hold different layers: the whole trace is refused, naming the
    // missing layer; --ranks imports one stage.
    void pipelineStagesOneAtATime()
    {
        const Trace t = makeTrace(false, 13);
        std::vector<TraceCall> calls;
        for (const TraceCall &c : t.calls)
            if ((c.rank == 0) == (c.block == "decoder" && c.layer < 2)) // rank 0: decoder.0-1, rank 1: the rest
                calls.push_back(c);
        QTemporaryDir dir;
        writeRouterTrace(dir.path().toStdString(), calls);
        QVERIFY(refused("megatron", dir.path(), {"router_trace_rank1.jsonl", "line 1", "layer decoder.0 has no record of step 3 rank 1", "--ranks"}));
        import::ImportOptions options;
        options.numExperts = kE;
        options.values["ranks"] = "1";
        runImport("megatron", dir.path(), dir.path() + "/stage1.h5", options);
        const auto dump = openDump((dir.path() + "/stage1.h5").toStdString());
        QCOMPARE(dump->info().layers.size(), std::size_t(2));
        QCOMPARE(QString::fromStdString(dump->info().layers[0].name), QString("decoder.2"));
        QCOMPARE(QString::fromStdString(dump->info().layers[1].name), QString("mtp.0.0"));
        for (const std::string &label : dump->info().sequenceLabels)
            QVERIFY(QString::fromStdString(label).endsWith("rank 1"));
        options.values["ranks"] = "0-x";
        QVERIFY(throws<import::ImportUsageError>([&] { runImport("megatron", dir.path(), dir.path() + "/x.h5", options); }));
    }

    void refusesBadTraces()
    {
        const Trace t = makeTrace(true, 5);
        auto fresh = [&](const std::vector<TraceCall> &calls, int topk = -1) {
            auto dir = std::make_unique<QTemporaryDir>();
            writeRouterTrace(dir->path().toStdString(), calls, topk);
            return dir;
        };
        { // a line cut short (the job was killed while writing)
            auto dir = fresh(t.calls);
            QFile f(dir->path() + "/router_trace_rank1.jsonl");
            QVERIFY(f.open(QIODevice::ReadWrite));
            const QByteArray text = f.readAll();
            f.resize(text.size() - 40);
            f.close();
            const int lines = int(text.left(text.size() - 40).count('\n')) + 1;
            QVERIFY(refused("megatron", dir->path(), {"router_trace_rank1.jsonl", QString("line %1").arg(lines), "truncated"}));
        }
        { // the sidecar is shorter than the last record's offset says
            auto dir = fresh(t.calls);
            QFile f(dir->path() + "/logits_rank0.bin");
            QVERIFY(f.resize(f.size() - 2));
            int lastLine = 0;
            for (const TraceCall &c : t.calls)
                lastLine += c.rank == 0;
            QVERIFY(refused("megatron", dir->path(),
                            {"router_trace_rank0.jsonl", QString("line %1").arg(lastLine), "past the end", "logits_rank0.bin"}));
        }
        for (const std::int64_t bad : {std::int64_t(kE), std::int64_t(-1)}) { // an expert id outside [0, E)
            std::vector<TraceCall> calls = t.calls;
            calls[5].topIndices[1][0] = bad; // rank 0's sixth line
            QVERIFY(refused("megatron", fresh(calls)->path(),
                            {"router_trace_rank0.jsonl", "line 6", "token 1 slot 0", "expert " + QString::number(bad)}));
        }
        { // a record whose top-k is not its layer's
            std::vector<TraceCall> calls = t.calls;
            const std::size_t odd = kLayers.size() * 3 + 2; // decoder.2 of the fourth call: rank 0
            for (auto &row : calls[odd].topIndices)
                row.push_back(row.back() == kE - 1 ? 0 : kE - 1);
            int line = 0;
            for (std::size_t i = 0; i <= odd; ++i)
                line += calls[i].rank == calls[odd].rank;
            QVERIFY(refused("megatron", fresh(calls)->path(),
                            {QString("router_trace_rank%1.jsonl").arg(calls[odd].rank), QString("line %1").arg(line),
                             "topk is 3", "decoder.2"}));
        }
        { // ranks that disagree on E: rank 1's logits are one expert wider
            std::vector<TraceCall> calls = t.calls;
            int line = 0;
            for (TraceCall &c : calls)
                if (c.rank == 1) {
                    c.numExperts = kE + 1;
                    for (std::size_t i = c.topIndices.size(); i-- > 0;)
                        c.logits.insert(c.logits.begin() + long((i + 1) * kE), 0.f);
                }
            for (const TraceCall &c : calls) {
                ++line;
                if (c.rank == 1)
                    break;
            }
            QVERIFY(refused("megatron", fresh(calls)->path(),
                            {"router_trace_rank1.jsonl", "line 1", "ranks disagree on E", "rank 0"}));
            (void)line;
        }
        { // topk field and rows disagree
            QVERIFY(refused("megatron", fresh(t.calls, 3)->path(), {"router_trace_rank0.jsonl", "line 1", "topk says 3"}));
        }
    }
};

QTEST_GUILESS_MAIN(MegatronTraceTest)
#include "MegatronTraceTest.moc"
