#pragma once
// The window benchmark (moescope_ui_shots DUMP --bench): opens DUMP in the main window
// (offscreen) and measures, as a user meets them, every interaction figure with its
// target, printing "met" or "NOT met" beside each:
//   loading       the worst GUI-thread block from the open until every layer is
//                 analysed and the views have their first results (<= 50 ms), first
//                 without the summary cache, then again from it
//   routing map   scrolling and zooming one sequence at four zoom levels: each step's
//                 frame (the view change and its repaint, <= 16 ms) and the worst block
//   overview      hovering (tooltips) and clicking cells of the layer x expert heatmap:
//                 frames (a click includes every view's reaction to the new selection)
//   pairs         switching layers with the pairs heatmap (E x E) in front, and hovering
//                 it: frames, and the worst block while counts arrive
//   token search  from the query (after the typing pause) to the answer on screen
//                 (<= 200 ms), and the worst block meanwhile
// Each slow block is traced to the event that took it (GuiBlockWatch.h).
#include <QString>

namespace moescope::ui::bench {

// The application must be a TimedApplication. Returns the process exit status.
int runUiBench(const QString &dump);

} // namespace moescope::ui::bench
