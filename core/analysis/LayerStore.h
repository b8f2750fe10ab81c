#pragma once
// The choices of every layer of an open dump, for the views that slice them by token,
// expert or sequence: kept in memory while they fit a budget, otherwise read again
// from the dump on demand, the least recently used layers making room. At DeepSeek-V3
// size every layer kept would take 2 GB per million tokens (T x L x k ids), so a 10 M
// token dump could not be opened at all; here memory stays within the budget whatever
// T, and a view that needs a layer that is not in memory waits for one layer's pass.
//
// A layer is held in one of two forms: as its pass (32-bit ids, what the views use),
// or compact (8 or 16-bit ids, stats/CompactChoices.h), a quarter of the size at
// E <= 256. When the budget runs out, the least recently used passes are made compact
// first, and only then are layers dropped. Rows and slices are cut from a compact
// layer directly; pass() widens it (milliseconds per million tokens, no reading).
//
// Thread-safety: every member may be called from any thread. A pass handed out stays
// valid while its holder keeps the pointer, even after the store drops it.
#include "analysis/LayerPass.h"
#include "io/Progress.h"
#include "io/RoutingDump.h"

#include <cstddef>
#include <functional>
#include <list>
#include <span>
#include <memory>
#include <mutex>
#include <vector>

namespace moescope {

using LayerPassPtr = std::shared_ptr<const LayerPass>;

class LayerStore {
public:
    // 768 MiB: with the token ids, the analysis pass's own two or three layers and the
    // views' data, a window on a 10 M-token DeepSeek-V3 dump stays under 1.5 GB.
    static constexpr std::size_t kDefaultBudget = std::size_t(768) << 20;

    LayerStore(std::shared_ptr<const RoutingDump> dump, std::size_t budgetBytes = kDefaultBudget);

    std::size_t numLayers() const { return m_resident.size(); }
    std::size_t budget() const { return m_budget; }
    // What a layer's pass takes in memory (ids, flags), from the dump's shape.
    static std::size_t passBytes(const LayerInfo &layer, std::int64_t numTokens, int topK);
    // The same held compact (as passBytes above 65536 experts).
    static std::size_t compactBytes(const LayerInfo &layer, std::int64_t numTokens, int topK, int numExperts);
    // Whether every layer's pass fits the budget at once; held compact.
    static bool allFit(const DumpInfo &info, std::size_t budgetBytes = kDefaultBudget);
    static bool allFitCompact(const DumpInfo &info, std::size_t budgetBytes = kDefaultBudget);

    // Layer `layer`'s pass: from memory, or read (and routed) from the dump now on the
    // calling thread. Throws what runLayerPass throws (DumpError, Cancelled).
    LayerPassPtr pass(std::size_t layer, const Progress &progress = {}) const;
    // The pass when it is in memory as a pass, else null (never reads nor widens: for
    // the GUI thread).
    LayerPassPtr resident(std::size_t layer) const;
    // Whether every layer is in memory as a pass.
    bool allResident() const;
    // Whether the layer is in memory in either form.
    bool inMemory(std::size_t layer) const;
    // Its first choice at `position` when the layer is in memory in either form and the
    // position valid, else -1 (never reads: for the GUI thread).
    int firstChoice(std::size_t layer, std::int64_t position) const;
    // Every layer, those in memory (in either form) first: a loop over all layers in this order reads
    // only the missing ones, where plain order would have each read evict the layer
    // needed next (the least recently used is the next one in line).
    std::vector<std::size_t> residentFirst() const;
    // The choices of positions [begin, begin + count) of a layer (row 0 is `begin`):
    // cut from the pass in memory, or, when the layer is not in memory and its choices
    // are recorded, read for that range alone, so a window on a dump too large to keep
    // reads kilobytes rather than every layer. A layer routed from its logits is
    // routed whole (pass()). Empty for a load-only layer. Throws as pass() does.
    LayerChoices slice(std::size_t layer, std::int64_t begin, std::int64_t count, const Progress &progress = {}) const;
    // The choices of some positions of a layer (`positions` ascending, within the dump),
    // handed to `visit` a band at a time: visit(first, n, ids, valid) gets positions
    // [first, first + n) of the list, row j of ids (k wide) and valid[j] holding
    // positions[first + j]. From the pass in memory; else, for recorded choices, read
    // from the dump for the stretches of whole stored chunks that hold the positions
    // (each chunk decoded once, chunks without any skipped, at most kRowsBandBytes of
    // rows held at a time), nothing kept; a layer routed from its logits is routed
    // whole (pass()). Nothing is visited for a load-only layer. Throws as pass() does.
    using RowsVisitor =
        std::function<void(std::size_t first, std::size_t n, const std::int32_t *ids, const std::uint8_t *valid)>;
    static constexpr std::size_t kRowsBandBytes = std::size_t(8) << 20;
    void rowsAt(std::size_t layer, std::span<const std::int64_t> positions, const RowsVisitor &visit,
                const Progress &progress = {}) const;
    // Reads each layer that is not in memory and keeps it compact, in layer order, while
    // it fits the budget beside room for two layers' passes (for the views, the pairs
    // view holding two: a pass wanted later is made while the store still holds
    // everything, so without that room the window's peak would pass the budget by a
    // layer), never making a pass compact nor dropping a layer; returns how many it
    // kept. The window runs it in the background once a dump is shown, so the token
    // search and the views find every layer in memory that fits (all of a
    // million-token DeepSeek-V3 dump; one or two of the 58 layers at 10 M tokens). Not during the first analysis: on a 2-core machine the
    // 0.5 GB of fresh memory cost the overview a quarter of a second.
    // Throws what runLayerPass throws (DumpError, Cancelled).
    std::size_t keepCompact(const Progress &progress = {}) const;
    // Hands the store a pass computed elsewhere (the window's first analysis).
    void adopt(std::size_t layer, LayerPass pass) const;

private:
    using CompactPassPtr = std::shared_ptr<const CompactPass>;
    // Under m_mutex: holds the layer as this pass (a compact copy goes), then makes room.
    void keep(std::size_t layer, LayerPassPtr pass) const;
    void makeRoom(std::size_t keptLayer) const;
    // Makes passes other than keptLayer compact, least recently used first, until
    // `wanted` more bytes fit the budget or none is left; whether they fit.
    bool compactFor(std::size_t wanted, std::size_t keptLayer) const;
    // The same before taking the mutex for keep(): the passes are made compact with the
    // mutex free, then swapped in where the layer still holds them.
    void compactOutsideTheLock(std::size_t wanted, std::size_t keptLayer) const;
    void touch(std::size_t layer) const;        // most recently used now
    // Under m_mutex: the bytes the budget has left once room for two passes of
    // `onePass` bytes is kept (the passes held count towards it).
    std::size_t roomLeftForPasses(std::size_t onePass) const;
    // A layer read from the dump compact (idBytes 0 when its choices cannot be).
    CompactPass readCompact(std::size_t layer, const Progress &progress) const;
    CompactPassPtr compactOf(std::size_t layer) const; // touches it when there

    std::shared_ptr<const RoutingDump> m_dump;
    std::size_t m_budget;
    mutable std::mutex m_mutex;
    mutable std::vector<LayerPassPtr> m_resident; // [L]; null: not in memory as a pass
    mutable std::vector<CompactPassPtr> m_compact; // [L]; null: not in memory compact
    mutable std::list<std::size_t> m_recent;      // in memory in either form, most recently used first
    mutable std::size_t m_bytes = 0;
};

} // namespace moescope
