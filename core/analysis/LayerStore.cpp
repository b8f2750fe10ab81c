#include "analysis/LayerStore.h"

#include "analysis/LogitsChunks.h"

#include <algorithm>
#include <stdexcept>

namespace moescope {

namespace {
std::size_t bytesOf(const LayerPass &p)
{
    const LayerChoices &c = p.choices;
    return c.ids.size() * sizeof(std::int32_t) + c.valid.size() + c.gateProbs.size() * sizeof(float);
}

std::size_t bytesOf(const CompactPass &p)
{
    return p.choices.bytes();
}
} // namespace

LayerStore::LayerStore(std::shared_ptr<const RoutingDump> dump, std::size_t budgetBytes)
    : m_dump(std::move(dump)), m_budget(budgetBytes), m_resident(m_dump->info().layers.size()),
      m_compact(m_dump->info().layers.size())
{
}

std::size_t LayerStore::passBytes(const LayerInfo &layer, std::int64_t numTokens, int topK)
{
    if (layer.loadOnly())
        return 0;
    return std::size_t(std::max<std::int64_t>(0, numTokens)) * (std::size_t(std::max(0, topK)) * 4 + 1);
}

std::size_t LayerStore::compactBytes(const LayerInfo &layer, std::int64_t numTokens, int topK, int numExperts)
{
    const int idBytes = compactIdBytes(numExperts);
    if (idBytes == 0)
        return passBytes(layer, numTokens, topK);
    if (layer.loadOnly())
        return 0;
    return std::size_t(std::max<std::int64_t>(0, numTokens)) * (std::size_t(std::max(0, topK)) * std::size_t(idBytes) + 1);
}

bool LayerStore::allFit(const DumpInfo &info, std::size_t budgetBytes)
{
    std::size_t total = 0;
    for (const LayerInfo &l : info.layers)
        total += passBytes(l, info.numTokens, info.topK);
    return total <= budgetBytes;
}

bool LayerStore::allFitCompact(const DumpInfo &info, std::size_t budgetBytes)
{
    std::size_t total = 0;
    for (const LayerInfo &l : info.layers)
        total += compactBytes(l, info.numTokens, info.topK, info.numExperts);
    return total <= budgetBytes;
}

void LayerStore::touch(std::size_t layer) const
{
    m_recent.remove(layer);
    m_recent.push_front(layer);
}

LayerStore::CompactPassPtr LayerStore::compactOf(std::size_t layer) const
{
    const std::lock_guard lock(m_mutex);
    CompactPassPtr p = m_compact.at(layer);
    if (p)
        touch(layer);
    return p;
}

LayerPassPtr LayerStore::resident(std::size_t layer) const
{
    const std::lock_guard lock(m_mutex);
    const LayerPassPtr p = m_resident.at(layer);
    if (p)
        touch(layer);
    return p;
}

bool LayerStore::inMemory(std::size_t layer) const
{
    const std::lock_guard lock(m_mutex);
    return m_resident.at(layer) || m_compact.at(layer);
}

int LayerStore::firstChoice(std::size_t layer, std::int64_t position) const
{
    const std::lock_guard lock(m_mutex);
    if (const LayerPassPtr &p = m_resident.at(layer)) {
        const LayerChoices &c = p->choices;
        if (position < 0 || position >= c.numPositions() || !c.valid[std::size_t(position)]) // load-only: none
            return -1;
        return c.ids[std::size_t(position) * std::size_t(c.topK)];
    }
    if (const CompactPassPtr &p = m_compact.at(layer)) {
        const CompactChoices &c = p->choices;
        if (position < 0 || position >= c.numPositions() || !c.valid[std::size_t(position)])
            return -1;
        return c.id(position, 0);
    }
    return -1;
}

bool LayerStore::allResident() const
{
    const std::lock_guard lock(m_mutex);
    return std::all_of(m_resident.begin(), m_resident.end(), [](const LayerPassPtr &p) { return p != nullptr; });
}

std::vector<std::size_t> LayerStore::residentFirst() const
{
    const std::lock_guard lock(m_mutex);
    std::vector<std::size_t> order(m_recent.begin(), m_recent.end());
    for (std::size_t l = 0; l < m_resident.size(); ++l)
        if (!m_resident[l] && !m_compact[l])
            order.push_back(l);
    return order;
}

LayerPassPtr LayerStore::pass(std::size_t layer, const Progress &progress) const
{
    if (LayerPassPtr p = resident(layer))
        return p;
    // Widened or read outside the lock: other layers stay available meanwhile. Two
    // threads asking for the same layer at once both make it; the second replaces the first.
    const CompactPassPtr compact = compactOf(layer);
    auto p = std::make_shared<const LayerPass>(compact ? widenPass(*compact)
                                                       : runLayerPass(*m_dump, layer, {}, progress));
    compactOutsideTheLock(bytesOf(*p), layer);
    const std::lock_guard lock(m_mutex);
    keep(layer, p);
    return p;
}

LayerChoices LayerStore::slice(std::size_t layer, std::int64_t begin, std::int64_t count,
                               const Progress &progress) const
{
    const DumpInfo &info = m_dump->info();
    const LayerInfo &li = info.layers.at(layer);
    if (begin < 0 || count < 0 || begin + count > info.numTokens)
        throw std::out_of_range("LayerStore::slice: positions beyond the dump");
    LayerChoices c;
    c.numExperts = info.numExperts;
    c.topK = info.topK;
    if (li.loadOnly())
        return c;
    LayerPassPtr whole = resident(layer);
    if (!whole) {
        if (const CompactPassPtr compact = compactOf(layer)) {
            const CompactChoices &from = compact->choices;
            c.topK = from.topK;
            c.ids.resize(std::size_t(count) * std::size_t(c.topK)); // every element written below
            from.widenRows(begin, count, c.ids.data());
            c.valid.assign(from.valid.begin() + begin, from.valid.begin() + begin + count);
            return c;
        }
    }
    if (!whole && !li.hasTopkIds)
        whole = pass(layer, progress);
    if (whole) {
        const LayerChoices &from = whole->choices;
        const auto k = std::size_t(from.topK);
        c.topK = from.topK;
        c.ids.assign(from.ids.begin() + std::ptrdiff_t(std::size_t(begin) * k),
                     from.ids.begin() + std::ptrdiff_t(std::size_t(begin + count) * k));
        c.valid.assign(from.valid.begin() + begin, from.valid.begin() + begin + count);
        return c;
    }
    // Recorded choices are valid for every token (dump-format.md), as in runLayerPass.
    c.ids.resize(std::size_t(count) * std::size_t(c.topK));
    c.valid.assign(std::size_t(count), 1);
    progress.checkCancelled();
    m_dump->readTopkIds(layer, std::uint64_t(begin), std::uint64_t(count), c.ids.data());
    progress.report(1.0);
    return c;
}

void LayerStore::rowsAt(std::size_t layer, std::span<const std::int64_t> positions, const RowsVisitor &visit,
                        const Progress &progress) const
{
    const DumpInfo &info = m_dump->info();
    const LayerInfo &li = info.layers.at(layer);
    if (!positions.empty() && (positions.front() < 0 || positions.back() >= info.numTokens))
        throw std::out_of_range("LayerStore::rowsAt: positions beyond the dump");
    if (li.loadOnly() || positions.empty())
        return;
    const std::size_t k = std::size_t(info.topK);
    std::vector<std::int32_t> ids;
    std::vector<std::uint8_t> valid;
    // Gathered a few thousand rows at a time, so the visitor sees one shape of input;
    // `copyRow(t, to)` puts position t's row at `to`.
    const auto gather = [&](const LargeVector<std::uint8_t> &validOf, const auto &copyRow) {
        constexpr std::size_t kBand = 4096;
        for (std::size_t first = 0; first < positions.size(); first += kBand) {
            const std::size_t n = std::min(kBand, positions.size() - first);
            ids.resize(n * k);
            valid.resize(n);
            for (std::size_t j = 0; j < n; ++j) {
                const std::size_t t = std::size_t(positions[first + j]);
                copyRow(t, ids.data() + j * k);
                valid[j] = validOf[t];
            }
            visit(first, n, ids.data(), valid.data());
        }
    };
    LayerPassPtr whole = resident(layer);
    if (!whole) {
        if (const CompactPassPtr compact = compactOf(layer)) {
            const CompactChoices &from = compact->choices;
            gather(from.valid, [&](std::size_t t, std::int32_t *to) { from.widenRows(std::int64_t(t), 1, to); });
            return;
        }
    }
    if (!whole && !li.hasTopkIds)
        whole = pass(layer, progress);
    if (whole) {
        const LayerChoices &from = whole->choices;
        gather(from.valid, [&](std::size_t t, std::int32_t *to) { std::copy_n(from.ids.data() + t * k, k, to); });
        return;
    }
    // Stretches of whole chunks: a stretch grows while the next position lies in its
    // last chunk or the one after, up to the band's size; a chunk holding none of the
    // positions ends it, so it is never read. Contiguous data reads as 4096-row chunks.
    const std::uint64_t chunk = li.topkIdsChunkRows > 0 ? li.topkIdsChunkRows : 4096;
    const std::uint64_t bandRows = std::max<std::uint64_t>(chunk, kRowsBandBytes / (std::max<std::size_t>(k, 1) * 4));
    std::vector<std::int32_t> rows;
    valid.assign(positions.size() > 0 ? std::min<std::size_t>(positions.size(), bandRows) : 0, 1);
    std::size_t first = 0;
    while (first < positions.size()) {
        progress.checkCancelled();
        const std::uint64_t firstChunk = std::uint64_t(positions[first]) / chunk;
        std::uint64_t lastChunk = firstChunk;
        std::size_t end = first + 1;
        for (; end < positions.size(); ++end) {
            const std::uint64_t c = std::uint64_t(positions[end]) / chunk;
            if (c != lastChunk && (c != lastChunk + 1 || (c - firstChunk + 1) * chunk > bandRows))
                break;
            lastChunk = c;
        }
        const std::uint64_t begin = std::uint64_t(positions[first]);
        const std::uint64_t count = std::uint64_t(positions[end - 1]) - begin + 1;
        rows.resize(std::size_t(count) * k);
        m_dump->readTopkIds(layer, begin, count, rows.data());
        const std::size_t n = end - first;
        ids.resize(n * k);
        for (std::size_t j = 0; j < n; ++j)
            std::copy_n(rows.begin() + std::ptrdiff_t((std::uint64_t(positions[first + j]) - begin) * k), k,
                        ids.begin() + std::ptrdiff_t(j * k));
        // Recorded choices are valid for every token (dump-format.md), as in runLayerPass.
        if (valid.size() < n)
            valid.assign(n, 1);
        visit(first, n, ids.data(), valid.data());
        progress.report(double(end) / double(positions.size()));
        first = end;
    }
}

void LayerStore::adopt(std::size_t layer, LayerPass pass) const
{
    auto p = std::make_shared<const LayerPass>(std::move(pass));
    compactOutsideTheLock(bytesOf(*p), layer);
    const std::lock_guard lock(m_mutex);
    keep(layer, std::move(p));
}

void LayerStore::keep(std::size_t layer, LayerPassPtr pass) const
{
    if (const LayerPassPtr &old = m_resident.at(layer))
        m_bytes -= bytesOf(*old);
    if (const CompactPassPtr &old = m_compact.at(layer))
        m_bytes -= bytesOf(*old);
    m_bytes += bytesOf(*pass);
    m_resident[layer] = std::move(pass);
    m_compact[layer].reset();
    touch(layer);
    makeRoom(layer);
}

bool LayerStore::compactFor(std::size_t wanted, std::size_t keptLayer) const
{
    // A holder of a pass made compact keeps its own copy.
    for (auto it = m_recent.rbegin(); m_bytes + wanted > m_budget && it != m_recent.rend(); ++it) {
        const std::size_t l = *it;
        const LayerPassPtr wide = m_resident[l];
        if (l == keptLayer || !wide || compactIdBytes(wide->choices) == 0)
            continue;
        auto small = std::make_shared<const CompactPass>(compactPass(*wide));
        m_bytes += bytesOf(*small);
        m_bytes -= bytesOf(*wide);
        m_compact[l] = std::move(small);
        m_resident[l].reset();
    }
    return m_bytes + wanted <= m_budget;
}

void LayerStore::compactOutsideTheLock(std::size_t wanted, std::size_t keptLayer) const
{
    // At 10 M tokens a pass takes 50 ms or more to make compact: done here, with the
    // mutex free, rather than in compactFor, while the GUI thread may wait on it.
    std::vector<std::pair<std::size_t, LayerPassPtr>> chosen;
    {
        const std::lock_guard lock(m_mutex);
        std::size_t bytes = m_bytes + wanted;
        if (keptLayer < m_resident.size()) // the layer's present form gives way to the new one
            bytes -= (m_resident[keptLayer] ? bytesOf(*m_resident[keptLayer]) : 0) +
                     (m_compact[keptLayer] ? bytesOf(*m_compact[keptLayer]) : 0);
        for (auto it = m_recent.rbegin(); bytes > m_budget && it != m_recent.rend(); ++it) {
            const LayerPassPtr &wide = m_resident[*it];
            const int idBytes = wide ? compactIdBytes(wide->choices) : 0;
            if (*it == keptLayer || idBytes == 0)
                continue;
            chosen.emplace_back(*it, wide);
            bytes -= bytesOf(*wide) - (wide->choices.ids.size() * std::size_t(idBytes) + wide->choices.valid.size());
        }
    }
    if (chosen.empty())
        return;
    std::vector<CompactPassPtr> made;
    for (const auto &[l, wide] : chosen)
        made.push_back(std::make_shared<const CompactPass>(compactPass(*wide)));
    const std::lock_guard lock(m_mutex);
    for (std::size_t i = 0; i < chosen.size(); ++i) {
        const auto &[l, wide] = chosen[i];
        if (m_resident[l] != wide)
            continue; // replaced or dropped meanwhile
        m_bytes += bytesOf(*made[i]);
        m_bytes -= bytesOf(*wide);
        m_compact[l] = made[i];
        m_resident[l].reset();
    }
}

void LayerStore::makeRoom(std::size_t keptLayer) const
{
    // First the least recently used passes are made compact, then the least recently
    // used layers go, in either form; the one just kept stays.
    compactFor(0, keptLayer);
    while (m_bytes > m_budget && m_recent.size() > 1) {
        auto oldest = std::prev(m_recent.end());
        if (*oldest == keptLayer)
            --oldest;
        const std::size_t l = *oldest;
        m_recent.erase(oldest);
        if (m_resident[l])
            m_bytes -= bytesOf(*m_resident[l]);
        if (m_compact[l])
            m_bytes -= bytesOf(*m_compact[l]);
        m_resident[l].reset();
        m_compact[l].reset();
    }
}

CompactPass LayerStore::readCompact(std::size_t layer, const Progress &progress) const
{
    const DumpInfo &info = m_dump->info();
    const LayerInfo &li = info.layers.at(layer);
    if (compactIdBytes(info.numExperts) == 0)
        return {}; // no narrower ids to hold
    if (!li.hasTopkIds || li.hasLogits) { // routed, or scored for its losses: the whole pass
        const LayerPass pass = runLayerPass(*m_dump, layer, {}, progress);
        return compactIdBytes(pass.choices) > 0 ? compactPass(pass) : CompactPass{};
    }
    // Recorded choices alone, as runLayerPass reads them (every token valid,
    // dump-format.md), narrowed a band at a time: at 10 M tokens the whole layer in
    // 32 bits would be 320 MB more at the window's peak.
    CompactPass small;
    small.figures.choicesRecorded = true;
    CompactChoices &c = small.choices;
    c.numExperts = info.numExperts;
    c.topK = info.topK;
    c.idBytes = compactIdBytes(info.numExperts);
    const auto T = std::uint64_t(info.numTokens);
    const auto k = std::size_t(info.topK);
    c.ids.resize(T * k * std::size_t(c.idBytes)); // every element written below
    c.valid.assign(T, 1);
    const std::uint64_t bandRows = wholeChunks(std::uint64_t(1) << 20, li.topkIdsChunkRows);
    std::vector<std::int32_t> band;
    for (std::uint64_t begin = 0; begin < T; begin += bandRows) {
        progress.checkCancelled();
        const std::uint64_t rows = std::min(bandRows, T - begin);
        band.resize(rows * k);
        m_dump->readTopkIds(layer, begin, rows, band.data());
        if (c.idBytes == 1)
            narrowIds(band.data(), band.size(), c.ids.data() + begin * k);
        else
            narrowIds(band.data(), band.size(), reinterpret_cast<std::uint16_t *>(c.ids.data()) + begin * k);
    }
    return small;
}

std::size_t LayerStore::roomLeftForPasses(std::size_t onePass) const
{
    std::size_t held = 0; // the views' passes take that room first
    for (const LayerPassPtr &p : m_resident)
        held += p ? bytesOf(*p) : 0;
    const std::size_t reserve = 2 * onePass > held ? 2 * onePass - held : 0;
    return m_bytes + reserve <= m_budget ? m_budget - m_bytes - reserve : 0;
}

std::size_t LayerStore::keepCompact(const Progress &progress) const
{
    const DumpInfo &info = m_dump->info();
    std::size_t kept = 0;
    for (std::size_t l = 0; l < info.layers.size(); ++l) {
        progress.checkCancelled();
        const LayerInfo &li = info.layers[l];
        const std::size_t bytes = compactBytes(li, info.numTokens, info.topK, info.numExperts);
        const std::size_t onePass = passBytes(li, info.numTokens, info.topK);
        if (li.loadOnly() || inMemory(l) || bytes >= onePass)
            continue;
        {
            const std::lock_guard lock(m_mutex);
            if (roomLeftForPasses(onePass) < bytes)
                break;
        }
        auto small = std::make_shared<const CompactPass>(readCompact(l, progress.quiet()));
        if (small->choices.idBytes == 0)
            continue;
        const std::lock_guard lock(m_mutex);
        if (m_resident[l] || m_compact[l])
            continue; // a view read it meanwhile
        if (roomLeftForPasses(onePass) < bytesOf(*small))
            break; // a view took the room meanwhile
        m_bytes += bytesOf(*small);
        m_compact[l] = std::move(small);
        m_recent.push_back(l); // the least recently used: the views' own layers stay ahead of it
        ++kept;
        progress.report(double(l + 1) / double(info.layers.size()));
    }
    progress.report(1.0);
    return kept;
}

} // namespace moescope
