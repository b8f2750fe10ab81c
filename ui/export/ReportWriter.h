#pragma once
// "Export report": one PDF with the overview heatmap, the health table, every
// layer's utilization histogram, the routing map of one sequence, the expert-parallel
// placement (when given) and the profiles of the busiest experts of one layer. The profiles are computed beforehand (they scan
// the dump's tokens, so the GUI does it in a background job); drawing the pages
// happens on the calling (GUI) thread because it uses the chart widgets.
#include "CheckpointSeries.h"
#include "DumpSnapshot.h"
#include "PlacementComparison.h"
#include "stats/ExpertProfile.h"

#include <QString>

#include <vector>

namespace moescope::ui {

struct ReportContent {
    DumpSnapshotPtr snapshot;
    int layer = 0;                      // whose busiest experts get profiles
    std::int64_t sequence = 0;          // shown in the routing map
    std::vector<ExpertProfile> profiles;
    std::shared_ptr<const PlacementComparison> placement; // null: no placement page
    CheckpointComparisonPtr checkpoints; // several dumps compared: one more page, the saturation heatmap
};

inline constexpr int kReportProfiles = 4;
inline constexpr int kReportHealthRowsPerPage = 30;

// The profiles of the `count` busiest experts of `layer`, busiest first.
std::vector<ExpertProfile> busiestExpertProfiles(const DumpSnapshot &snapshot, int layer, int count = kReportProfiles,
                                                 const Progress &progress = {});

// Pages: a title page with the overview, the health table, two histograms a page,
// the routing map, the placement (when there is one), two profiles a page, and the
// checkpoints page when there is one.
int reportPageCount(int layers, int profiles, bool placement = false, bool checkpoints = false);

// Returns an empty string on success, else a message naming the file and the problem.
// Written through QSaveFile: no half-written report on failure.
QString writeReport(const ReportContent &content, const QString &path);

} // namespace moescope::ui
