// The routing dump target: everything the reader does with a dump, on a bounded
// number of rows so that one input takes milliseconds.
#include "FuzzEntries.h"

#include "io/DumpError.h"
#include "io/RoutingDump.h"

#include <algorithm>
#include <vector>

namespace moescope::fuzz {

namespace {
constexpr std::uint64_t kRows = 64; // rows read at each end of every dataset

void readLayer(const RoutingDump &dump, std::size_t l)
{
    const DumpInfo &info = dump.info();
    const LayerInfo &layer = info.layers[l];
    const auto T = std::uint64_t(info.numTokens);
    const std::uint64_t rows = std::min(T, kRows);
    const std::size_t E = std::size_t(info.numExperts), k = std::size_t(info.topK);
    for (const std::uint64_t begin : {std::uint64_t(0), T - rows}) {
        if (layer.hasLogits) {
            std::vector<float> floats(rows * E);
            dump.readLogits(l, begin, rows, floats.data());
            std::vector<double> doubles(rows * E);
            dump.readLogits(l, begin, rows, doubles.data());
            if (layer.logitsType == LogitsType::Float16) {
                std::vector<std::uint16_t> halves(rows * E);
                dump.readLogits(l, begin, rows, halves.data());
            }
        }
        if (layer.hasTopkIds) {
            std::vector<std::int32_t> ids(rows * k);
            dump.readTopkIds(l, begin, rows, ids.data());
        }
        if (layer.hasTopkWeights) {
            std::vector<float> weights(rows * k);
            dump.readTopkWeights(l, begin, rows, weights.data());
        }
    }
}
} // namespace

int dumpImage(const std::uint8_t *data, std::size_t size)
{
    try {
        const RoutingDump dump(kImageName, FileImage{data, size});
        const DumpInfo &info = dump.info();
        dump.readVocab();
        if (info.hasTokens) {
            const auto T = std::uint64_t(info.numTokens);
            dump.readTokenIds(0, std::min(T, kRows));
            dump.readTokenIds(T - std::min(T, kRows), std::min(T, kRows));
        }
        for (std::size_t l = 0; l < info.layers.size(); ++l) {
            try {
                readLayer(dump, l);
            } catch (const DumpError &) { // one refused layer: the others are still read
            }
        }
        dump.readTraining();
    } catch (const DumpError &e) {
        refused(e);
    }
    return 0;
}

} // namespace moescope::fuzz
