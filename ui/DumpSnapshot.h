#pragma once
// One opened and analysed dump as the views see it: immutable once built, shared by
// every view and background job through DumpSnapshotPtr, so a job that outlives a
// newer file keeps its own data alive and never sees it change.
#include "analysis/DumpAnalysis.h"
#include "io/RoutingDump.h"
#include "stats/TokenPositions.h"

#include <QString>

#include <memory>
#include <mutex>

namespace moescope::ui {

struct DumpSnapshot {
    QString path;
    std::shared_ptr<const RoutingDump> dump; // for on-demand reads (gate weights, what-if)
    DumpAnalysis analysis;
    // While a dump loads, the overview is shown the layers done so far: a partial
    // snapshot holds info and report.layers only (no choices, tokens or training).
    bool partial = false;

    const DumpInfo &info() const { return analysis.info; }
    // Layers analysed: all of them, or while loading (a partial snapshot), those done.
    int numLayers() const { return int(analysis.report.layers.size()); }
    int numExperts() const { return analysis.info.numExperts; }
    std::int64_t numSequences() const { return analysis.info.numSequences(); }

    // "03" or "03 (index 7)": the name users know a layer by.
    QString layerName(int layer) const;
    // The token at `position` as shown in views (whitespace made visible).
    QString tokenDisplay(std::int64_t position) const;
    QString tokenIdDisplay(std::int64_t tokenId) const;
    // Sequence s covers positions [sequenceBegin(s), sequenceEnd(s)).
    std::int64_t sequenceBegin(std::int64_t s) const { return analysis.info.sequenceOffsets.at(std::size_t(s)); }
    std::int64_t sequenceEnd(std::int64_t s) const { return analysis.info.sequenceOffsets.at(std::size_t(s) + 1); }
    QString sequenceLabel(std::int64_t s) const; // "" without labels
    // The layer with the highest count for an expert, the most loaded expert of a layer.
    int busiestExpert(int layer) const;
    // Where each token id occurs, indexed once per snapshot: built on first use (the
    // window's loader does that on its worker thread) and shared by every view.
    // Thread-safe.
    const TokenPositions &tokenPositions() const;

private:
    // Built at most once; a copy of the snapshot builds its own.
    struct LazyTokenPositions {
        LazyTokenPositions() = default;
        LazyTokenPositions(const LazyTokenPositions &) {}
        LazyTokenPositions &operator=(const LazyTokenPositions &) { return *this; }
        std::once_flag built;
        TokenPositions index;
    };
    mutable LazyTokenPositions m_tokenPositions;
};

using DumpSnapshotPtr = std::shared_ptr<const DumpSnapshot>;

// The bytes of layer choices a snapshot keeps in memory: MOESCOPE_LAYER_MEMORY_MB,
// else LayerStore's default.
std::size_t layerMemoryBudget();

// Opens and analyses `path` on the calling thread (used by background jobs and by the
// headless export). Throws DumpError or Cancelled.
DumpSnapshotPtr loadSnapshot(const QString &path, const Progress &progress = {});

} // namespace moescope::ui
