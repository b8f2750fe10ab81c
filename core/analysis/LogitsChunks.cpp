#include "analysis/LogitsChunks.h"

#include <algorithm>

namespace moescope {

void forEachLogitsChunk(const RoutingDump &dump, std::size_t layer,
                        const std::function<void(const LogitsView &, std::int64_t)> &use, const Progress &progress)
{
    const DumpInfo &info = dump.info();
    const int E = info.numExperts;
    const std::string &type = info.layers.at(layer).logitsType;
    const std::uint64_t T = std::uint64_t(info.numTokens);
    const std::uint64_t chunkRows = std::max<std::uint64_t>(1, (16u << 20) / (std::uint64_t(E) * 8));
    std::vector<std::uint16_t> halves;
    std::vector<float> floats;
    std::vector<double> doubles;
    for (std::uint64_t begin = 0; begin < T; begin += chunkRows) {
        progress.checkCancelled();
        const std::uint64_t rows = std::min(chunkRows, T - begin);
        LogitsView view;
        view.rows = rows;
        view.numExperts = E;
        const std::size_t n = rows * std::size_t(E);
        if (type == "float16") {
            halves.resize(n);
            dump.readLogits(layer, begin, rows, halves.data());
            view.data = halves.data();
            view.type = LogitsType::Float16;
        } else if (type == "float64") {
            doubles.resize(n);
            dump.readLogits(layer, begin, rows, doubles.data());
            view.data = doubles.data();
            view.type = LogitsType::Float64;
        } else {
            floats.resize(n);
            dump.readLogits(layer, begin, rows, floats.data());
            view.data = floats.data();
            view.type = LogitsType::Float32;
        }
        use(view, std::int64_t(begin));
        progress.report(double(begin + rows) / double(T));
    }
}

} // namespace moescope
