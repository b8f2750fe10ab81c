#include "analysis/RoutingWindow.h"

#include <algorithm>
#include <stdexcept>

namespace moescope {

RoutingWindow binRoutingWindow(const std::vector<const LayerChoices *> &layers, const RoutingWindowRequest &request,
                               const Progress &progress)
{
    if (request.columns <= 0 || request.begin < 0 || request.end < request.begin)
        throw std::invalid_argument("binRoutingWindow: bad window");
    RoutingWindow w;
    w.begin = request.begin;
    w.end = request.end;
    w.layers = int(layers.size());
    w.columns = int(std::min<std::int64_t>(request.columns, request.end - request.begin));
    w.expert.assign(std::size_t(w.layers) * w.columns, -1);
    w.highlight.assign(w.expert.size(), 0);

    // Counts per expert, reset only where a bin touched them, so a bin costs its
    // tokens and not E (E may be 4096 with bins of one token).
    std::vector<std::int32_t> tally;
    std::vector<std::int32_t> touched;
    for (int l = 0; l < w.layers; ++l) {
        progress.checkCancelled();
        const LayerChoices &c = *layers[std::size_t(l)];
        if (request.end > c.numPositions())
            throw std::invalid_argument("binRoutingWindow: window beyond the layer's positions");
        const std::size_t k = std::size_t(c.topK);
        tally.assign(std::size_t(c.numExperts), 0);
        for (int col = 0; col < w.columns; ++col) {
            const std::int64_t from = w.first(col), to = w.first(col + 1);
            int validTokens = 0, highlighted = 0;
            touched.clear();
            for (std::int64_t t = from; t < to; ++t) {
                if (!c.valid[std::size_t(t)])
                    continue;
                ++validTokens;
                const std::int32_t *ids = c.ids.data() + std::size_t(t) * k;
                if (tally[std::size_t(ids[0])]++ == 0)
                    touched.push_back(ids[0]);
                if (request.highlightExpert >= 0 && std::find(ids, ids + k, request.highlightExpert) != ids + k)
                    ++highlighted;
            }
            std::int32_t best = -1, bestCount = 0;
            for (std::int32_t e : touched) {
                const std::int32_t n = tally[std::size_t(e)];
                if (n > bestCount || (n == bestCount && e < best)) {
                    best = e;
                    bestCount = n;
                }
                tally[std::size_t(e)] = 0;
            }
            const std::size_t cell = std::size_t(l) * w.columns + col;
            w.expert[cell] = best;
            if (validTokens)
                w.highlight[cell] = std::uint8_t((255 * highlighted + validTokens / 2) / validTokens);
        }
        progress.report(double(l + 1) / w.layers);
    }
    return w;
}

} // namespace moescope
