// `moescope import --format vllm`: vLLM's routed experts (import/VllmRoutedExperts.h)
// as a dump with one sequence per request and layers 00 .. L-1.
#include "import/ImportFormats.h"
#include "import/VllmRoutedExperts.h"
#include "io/DumpError.h"

#include <algorithm>
#include <filesystem>

namespace moescope::import {

namespace {

std::string layerName(std::int64_t layer, std::int64_t layers)
{
    const std::size_t width =
        std::max<std::size_t>(2, std::to_string(std::max<std::int64_t>(layers - 1, 0)).size());
    std::string s = std::to_string(layer);
    return std::string(width > s.size() ? width - s.size() : 0, '0') + s;
}

std::string where(const RoutedRequest &r, std::int64_t token, std::int64_t layer)
{
    return "request '" + r.name + "', token " + std::to_string(token) + ", layer " + std::to_string(layer);
}

ImportedRecord readVllm(const std::string &source, const ImportOptions &options, const Progress &progress)
{
    const RoutedExperts routed = readVllmRoutedExperts(source);
    progress.checkCancelled();
    const std::int64_t L = routed.layers, k = routed.topK;
    ImportedRecord rec;
    rec.warnings = routed.warnings;

    // Ids are checked where they stand, so the message can name the request and token.
    std::int64_t largest = -1;
    for (const RoutedRequest &r : routed.requests)
        for (std::int64_t i = 0; i < std::int64_t(r.experts.size()); ++i) {
            const std::int64_t v = r.experts[std::size_t(i)];
            if (v < 0)
                throw DumpError(source, where(r, i / (L * k), i / k % L),
                                "expert id " + std::to_string(v) + " is negative");
            largest = std::max(largest, v);
        }
    std::int64_t E = largest + 1;
    if (options.numExperts) {
        E = *options.numExperts;
    } else {
        rec.warnings.push_back(source + ": the number of experts is not recorded; took " + std::to_string(E) +
                               " (1 + the largest expert id seen); give --num-experts if the model has more");
    }
    if (largest >= E)
        for (const RoutedRequest &r : routed.requests)
            for (std::int64_t i = 0; i < std::int64_t(r.experts.size()); ++i)
                if (r.experts[std::size_t(i)] >= E)
                    throw DumpError(source, where(r, i / (L * k), i / k % L),
                                    "expert id " + std::to_string(r.experts[std::size_t(i)]) +
                                        " is not below E = " + std::to_string(E) + " (--num-experts)");
    if (E < 1 || E > 4096)
        throw DumpError(source, "",
                        "E = " + std::to_string(E) + " is outside 1 .. 4096, the experts a dump can hold");
    if (k > E)
        throw DumpError(source, "",
                        "chooses " + std::to_string(k) +
                            " experts per token, more than E = " + std::to_string(E));

    rec.numExperts = int(E);
    rec.topK = int(k);
    rec.layers.resize(std::size_t(L));
    for (std::int64_t l = 0; l < L; ++l) {
        rec.layers[std::size_t(l)].name = layerName(l, L);
        rec.layers[std::size_t(l)].index = l;
    }
    bool allIds = true, someIds = false;
    rec.sequenceOffsets.push_back(0);
    std::vector<std::int16_t> slots(static_cast<std::size_t>(k)); // E <= 4096 fits
    for (const RoutedRequest &r : routed.requests) {
        for (std::int64_t t = 0; t < r.rows; ++t)
            for (std::int64_t l = 0; l < L; ++l) {
                const auto *row = r.experts.data() + (t * L + l) * k;
                auto &choices = rec.layers[std::size_t(l)].choices;
                for (std::int64_t s = 0; s < k; ++s)
                    slots[std::size_t(s)] = std::int16_t(row[s]);
                choices.insert(choices.end(), slots.begin(), slots.end());
                std::sort(slots.begin(), slots.end());
                if (std::adjacent_find(slots.begin(), slots.end()) != slots.end())
                    throw DumpError(source, where(r, t, l),
                                    "chooses expert " +
                                        std::to_string(*std::adjacent_find(slots.begin(), slots.end())) +
                                        " twice");
            }
        rec.numTokens += r.rows;
        rec.sequenceOffsets.push_back(rec.numTokens);
        rec.sequenceLabels.push_back(r.name);
        allIds = allIds && !r.tokenIds.empty();
        someIds = someIds || !r.tokenIds.empty();
        progress.checkCancelled();
    }
    if (allIds) {
        for (const RoutedRequest &r : routed.requests)
            rec.tokenIds.insert(rec.tokenIds.end(), r.tokenIds.begin(), r.tokenIds.end());
    } else if (someIds) {
        rec.warnings.push_back(source +
                               ": only some requests have token ids; every token id is written as 0");
    }
    rec.stringAttributes["source"] = "vllm";
    rec.stringAttributes["source_layout"] = routed.layout;
    return rec;
}

} // namespace

ImportFormat vllmFormat()
{
    ImportFormat f;
    f.name = "vllm";
    f.description = "vLLM routed experts (.npy, .npz, or JSON with nested lists or base64)";
    f.detect = [](const std::string &source) {
        std::error_code error;
        return std::filesystem::is_regular_file(source, error) && looksLikeVllmRoutedExperts(source);
    };
    f.read = readVllm;
    return f;
}

} // namespace moescope::import
