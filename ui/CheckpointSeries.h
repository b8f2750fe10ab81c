#pragma once
// Several dumps of one run compared (core/analysis/CheckpointComparison.h), as the
// Checkpoints view, its charts and `moescope export --chart saturation` share it:
// immutable once computed, shared by pointer.
#include "analysis/CheckpointComparison.h"
#include "io/Progress.h"

#include <QString>
#include <QStringList>

#include <memory>

namespace moescope::ui {

using CheckpointComparisonPtr = std::shared_ptr<const CheckpointComparison>;

// Opens every file (through openDump) and compares them. Throws DumpError,
// CheckpointMismatch or Cancelled.
CheckpointComparisonPtr compareFiles(const QStringList &paths, const Progress &progress = {});

// How a checkpoint is named on an axis: "step 200", else its file name.
QString checkpointLabel(const CheckpointComparison &comparison, std::size_t checkpoint);

} // namespace moescope::ui
