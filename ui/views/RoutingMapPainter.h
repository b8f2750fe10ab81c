#pragma once
// Draws the routing map of one view of one sequence: layer labels, the token header
// (text when zoomed in, positions otherwise), the cells of a RoutingWindow, the
// selection marks and the expert colour legend. Pure drawing from a RoutingMapScene,
// shared by the screen (RoutingMapCanvas) and every export (renderRoutingMap).
#include "DumpSnapshot.h"
#include "ExpertPalette.h"
#include "Selection.h"
#include "analysis/RoutingWindow.h"

#include <QCoreApplication>
#include <QFont>
#include <QRect>

#include <span>

class QPainter;

namespace moescope::ui {

// Everything one picture of the map shows: a value built for each paint, so the
// painter keeps nothing between calls.
struct RoutingMapScene {
    const DumpSnapshot *snapshot = nullptr;   // null: emptyText, else "No dump loaded"
    QString emptyText;
    std::int64_t sequence = 0;
    Selection selection;
    bool dimOthers = true;
    const ExpertPalette *palette = nullptr;   // the snapshot's expert colours
    std::span<const std::int64_t> tokenPositions; // of selection.tokenId (all sequences), ascending
    QFont font;
    double begin = 0;                // first position shown, relative to the sequence start
    double pixelsPerToken = 1;
    const RoutingWindow *window = nullptr; // its cells; may be stale or null while a new one is binned
    bool withTitle = false;          // exports name the sequence and range above the map
};

class RoutingMapPainter {
    Q_DECLARE_TR_FUNCTIONS(moescope::ui::RoutingMapPainter)
public:
    struct Layout {
        QRect title, labels, header, map, legend;
        double rowHeight = 0;   // map height / layers
    };
    static constexpr double kTextPixelsPerToken = 11.0; // token text printed from this zoom on

    static std::int64_t sequenceLength(const DumpSnapshot *snapshot, std::int64_t sequence);
    // Where everything goes in `size` at `ppt` pixels per token.
    static Layout layout(const DumpSnapshot *snapshot, const QFont &font, const QSize &size, double ppt,
                         bool withTitle);
    static Layout layout(const RoutingMapScene &scene, const QSize &size)
    {
        return layout(scene.snapshot, scene.font, size, scene.pixelsPerToken, scene.withTitle);
    }
    static void paint(QPainter &p, const RoutingMapScene &scene, const QSize &size);
    // The expert of the legend swatch at `pos`, or -1.
    static int legendExpertAt(const RoutingMapScene &scene, const QSize &size, const QPoint &pos);
};

} // namespace moescope::ui
