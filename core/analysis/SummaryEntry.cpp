#include "analysis/SummaryEntry.h"

#include <cstring>
#include <stdexcept>

namespace moescope {

namespace {

// ---- a small binary writer and a bounds-checked reader -------------------------

struct Writer {
    std::string out;
    template <typename T> void raw(const T &v) { out.append(reinterpret_cast<const char *>(&v), sizeof v); }
    void text(const std::string &s)
    {
        raw(std::uint64_t(s.size()));
        out += s;
    }
    template <typename T> void list(const std::vector<T> &v)
    {
        raw(std::uint64_t(v.size()));
        if (!v.empty())
            out.append(reinterpret_cast<const char *>(v.data()), v.size() * sizeof(T));
    }
    template <typename T> void maybe(const std::optional<T> &v)
    {
        raw(std::uint8_t(v.has_value()));
        if (v)
            raw(*v);
    }
    void texts(const std::vector<std::string> &v)
    {
        raw(std::uint64_t(v.size()));
        for (const std::string &s : v)
            text(s);
    }
};

struct Corrupt : std::runtime_error {
    Corrupt() : std::runtime_error("corrupt summary") {}
};

struct Reader {
    const std::string &in;
    std::size_t at = 0;
    void need(std::uint64_t n) const
    {
        if (n > in.size() - at)
            throw Corrupt();
    }
    template <typename T> T raw()
    {
        need(sizeof(T));
        T v;
        std::memcpy(&v, in.data() + at, sizeof v);
        at += sizeof v;
        return v;
    }
    std::string text()
    {
        const auto n = raw<std::uint64_t>();
        need(n);
        std::string s = in.substr(at, std::size_t(n));
        at += std::size_t(n);
        return s;
    }
    template <typename T> std::vector<T> list()
    {
        const auto n = raw<std::uint64_t>();
        if (n > (in.size() - at) / sizeof(T))
            throw Corrupt();
        std::vector<T> v(static_cast<std::size_t>(n));
        if (n > 0) // an empty vector's data() may be null, which memcpy must not see
            std::memcpy(v.data(), in.data() + at, std::size_t(n) * sizeof(T));
        at += std::size_t(n) * sizeof(T);
        return v;
    }
    template <typename T> std::optional<T> maybe()
    {
        if (raw<std::uint8_t>())
            return raw<T>();
        return std::nullopt;
    }
    std::vector<std::string> texts()
    {
        const auto n = raw<std::uint64_t>();
        if (n > (in.size() - at) / sizeof(std::uint64_t)) // each text holds at least its length
            throw Corrupt();
        std::vector<std::string> v;
        v.reserve(std::size_t(n));
        for (std::uint64_t i = 0; i < n; ++i)
            v.push_back(text());
        return v;
    }
    bool flag() { return raw<std::uint8_t>() != 0; }
};

// The dump's info travels with its report, so a dump seen before is shown (and `stats`
// answered) without opening it at all: no preflight, no HDF5, no token ids.
void writeInfo(Writer &w, const DumpInfo &i)
{
    w.raw(i.formatVersion);
    w.raw(i.numExperts);
    w.raw(i.topK);
    w.raw(int(i.scoring));
    w.raw(std::uint8_t(i.normalizeTopK));
    w.raw(i.numGroups);
    w.raw(i.topKGroups);
    w.raw(i.routedScalingFactor);
    w.raw(i.capacityFactor);
    w.text(i.model);
    w.text(i.checkpoint);
    w.maybe(i.checkpointStep);
    w.raw(i.numTokens);
    w.raw(std::uint8_t(i.hasTokens));
    w.list(i.sequenceOffsets);
    w.texts(i.sequenceLabels);
    w.raw(i.vocabSize);
    w.raw(std::uint64_t(i.layers.size()));
    for (const LayerInfo &l : i.layers) {
        w.text(l.name);
        w.maybe(l.index);
        for (bool b : {l.hasLogits, l.hasTopkIds, l.hasTopkWeights, l.hasExpertBias, l.logitsAreProbabilities,
                       l.hasCounts})
            w.raw(std::uint8_t(b));
        w.raw(int(l.logitsType));
        w.text(l.logitsStorage);
        w.raw(l.logitsChunkRows);
        w.raw(l.topkIdsChunkRows);
        w.list(l.expertBias);
        w.list(l.storedCounts);
    }
    w.raw(std::uint8_t(i.hasTraining));
    w.texts(i.warnings);
}

DumpInfo readInfo(Reader &r)
{
    DumpInfo i;
    i.formatVersion = r.raw<int>();
    i.numExperts = r.raw<int>();
    i.topK = r.raw<int>();
    const int scoring = r.raw<int>();
    if (scoring != int(Scoring::Softmax) && scoring != int(Scoring::Sigmoid))
        throw Corrupt();
    i.scoring = Scoring(scoring);
    i.normalizeTopK = r.flag();
    i.numGroups = r.raw<int>();
    i.topKGroups = r.raw<int>();
    i.routedScalingFactor = r.raw<double>();
    i.capacityFactor = r.raw<double>();
    i.model = r.text();
    i.checkpoint = r.text();
    i.checkpointStep = r.maybe<std::int64_t>();
    i.numTokens = r.raw<std::int64_t>();
    i.hasTokens = r.flag();
    i.sequenceOffsets = r.list<std::int64_t>();
    i.sequenceLabels = r.texts();
    i.vocabSize = r.raw<std::int64_t>();
    const auto layers = r.raw<std::uint64_t>();
    if (layers > r.in.size())
        throw Corrupt();
    for (std::uint64_t n = 0; n < layers; ++n) {
        LayerInfo l;
        l.name = r.text();
        l.index = r.maybe<std::int64_t>();
        for (bool *b : {&l.hasLogits, &l.hasTopkIds, &l.hasTopkWeights, &l.hasExpertBias,
                        &l.logitsAreProbabilities, &l.hasCounts})
            *b = r.flag();
        const int type = r.raw<int>();
        if (type < int(LogitsType::Float16) || type > int(LogitsType::Float64))
            throw Corrupt();
        l.logitsType = LogitsType(type);
        l.logitsStorage = r.text();
        l.logitsChunkRows = r.raw<std::uint64_t>();
        l.topkIdsChunkRows = r.raw<std::uint64_t>();
        l.expertBias = r.list<double>();
        l.storedCounts = r.list<double>();
        i.layers.push_back(std::move(l));
    }
    i.hasTraining = r.flag();
    i.warnings = r.texts();
    return i;
}

void writeLayer(Writer &w, const LayerReport &l)
{
    w.raw(std::uint64_t(l.position));
    w.text(l.name);
    w.maybe(l.index);
    w.raw(std::uint8_t(l.choicesRecorded));
    w.raw(std::uint8_t(l.countsOnly));
    w.raw(l.tokens);
    w.raw(l.invalidTokens);
    w.list(l.counts);
    w.raw(l.load.meanLoad);
    w.list(l.load.share);
    w.list(l.load.hot);
    w.list(l.load.cold);
    w.raw(l.load.cv);
    w.raw(l.load.maxVio);
    w.raw(l.load.entropy);
    w.maybe(l.lbLoss);
    w.maybe(l.zLoss);
    const DropReport &d = l.drops;
    for (std::int64_t v : {d.capacity, d.assignments, d.dropped, d.fullyDropped})
        w.raw(v);
    for (double v : {d.droppedFraction, d.fullyDroppedFraction, d.stragglerFactor})
        w.raw(v);
    w.list(d.droppedPerExpert);
    w.list(d.dropsByPosition);
    w.raw(std::uint64_t(l.labelShares.size()));
    for (const auto &[label, shares] : l.labelShares) {
        w.text(label);
        w.list(shares);
    }
    w.maybe(l.agreement);
    const TokenLocality &t = l.locality;
    w.raw(t.pairs);
    for (double v : {t.first, t.firstUniform, t.firstLoadAware, t.any, t.anyUniform, t.anyLoadAware})
        w.raw(v);
    w.raw(std::uint8_t(t.hasAny));
    w.raw(t.loadAwarePairs);
    w.raw(std::uint8_t(l.vocabulary.has_value()));
    if (l.vocabulary) {
        w.raw(l.vocabulary->ids);
        w.raw(l.vocabulary->minCount);
        for (const SpecialisationFigures *f : {&l.vocabulary->top1, &l.vocabulary->topK}) {
            w.raw(f->layer);
            w.list(f->perExpert);
            w.list(f->expertIds);
        }
    }
}

LayerReport readLayer(Reader &r)
{
    LayerReport l;
    l.position = std::size_t(r.raw<std::uint64_t>());
    l.name = r.text();
    l.index = r.maybe<std::int64_t>();
    l.choicesRecorded = r.raw<std::uint8_t>() != 0;
    l.countsOnly = r.raw<std::uint8_t>() != 0;
    l.tokens = r.raw<std::int64_t>();
    l.invalidTokens = r.raw<std::int64_t>();
    l.counts = r.list<std::int64_t>();
    l.load.meanLoad = r.raw<double>();
    l.load.share = r.list<double>();
    l.load.hot = r.list<int>();
    l.load.cold = r.list<int>();
    l.load.cv = r.raw<double>();
    l.load.maxVio = r.raw<double>();
    l.load.entropy = r.raw<double>();
    l.lbLoss = r.maybe<double>();
    l.zLoss = r.maybe<double>();
    DropReport &d = l.drops;
    d.capacity = r.raw<std::int64_t>();
    d.assignments = r.raw<std::int64_t>();
    d.dropped = r.raw<std::int64_t>();
    d.fullyDropped = r.raw<std::int64_t>();
    d.droppedFraction = r.raw<double>();
    d.fullyDroppedFraction = r.raw<double>();
    d.stragglerFactor = r.raw<double>();
    d.droppedPerExpert = r.list<std::int64_t>();
    d.dropsByPosition = r.list<std::int64_t>();
    const auto labels = r.raw<std::uint64_t>();
    for (std::uint64_t i = 0; i < labels; ++i) {
        std::string label = r.text();
        l.labelShares[label] = r.list<double>();
    }
    l.agreement = r.maybe<double>();
    TokenLocality &t = l.locality;
    t.pairs = r.raw<std::int64_t>();
    for (double *v : {&t.first, &t.firstUniform, &t.firstLoadAware, &t.any, &t.anyUniform, &t.anyLoadAware})
        *v = r.raw<double>();
    t.hasAny = r.raw<std::uint8_t>() != 0;
    t.loadAwarePairs = r.raw<std::int64_t>();
    if (r.raw<std::uint8_t>()) {
        VocabularySpecialisation v;
        v.ids = r.raw<std::int64_t>();
        v.minCount = r.raw<std::int64_t>();
        for (SpecialisationFigures *f : {&v.top1, &v.topK}) {
            f->layer = r.raw<double>();
            f->perExpert = r.list<double>();
            f->expertIds = r.list<std::int64_t>();
        }
        l.vocabulary = std::move(v);
    }
    return l;
}

} // namespace

std::string encodeSummary(const std::string &key, const DumpInfo &info, const DumpReport &report)
{
    Writer w;
    w.text(key);
    writeInfo(w, info);
    w.raw(report.tokens);
    w.raw(report.numExperts);
    w.raw(report.topK);
    w.raw(report.capacityFactor);
    w.raw(std::uint64_t(report.layers.size()));
    for (const LayerReport &l : report.layers)
        writeLayer(w, l);
    return std::move(w.out);
}

std::optional<CachedSummary> decodeSummary(const std::string &data, const std::string &key)
{
    try {
        Reader r{data};
        if (r.text() != key) // another dump whose key hashed alike
            return std::nullopt;
        CachedSummary summary;
        summary.info = readInfo(r);
        DumpReport &report = summary.report;
        report.tokens = r.raw<std::int64_t>();
        report.numExperts = r.raw<int>();
        report.topK = r.raw<int>();
        report.capacityFactor = r.raw<double>();
        const auto layers = r.raw<std::uint64_t>();
        if (layers > data.size())
            return std::nullopt;
        for (std::uint64_t i = 0; i < layers; ++i)
            report.layers.push_back(readLayer(r));
        if (r.at != data.size())
            return std::nullopt;
        return summary;
    } catch (const Corrupt &) {
        return std::nullopt;
    }
}

} // namespace moescope
