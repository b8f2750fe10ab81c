#pragma once
// Draws the routing map of one view of one sequence: layer labels, the token header
// (text when zoomed in, positions otherwise), the cells of a RoutingWindow, the
// selection marks and the expert colour legend. Pure drawing from the fields below,
// shared by the screen (RoutingMapCanvas) and every export.
#include "DumpSnapshot.h"
#include "ExpertPalette.h"
#include "Selection.h"
#include "analysis/RoutingWindow.h"

#include <QCoreApplication>
#include <QFont>
#include <QRect>

class QPainter;

namespace moescope::ui {

class RoutingMapPainter {
    Q_DECLARE_TR_FUNCTIONS(moescope::ui::RoutingMapPainter)
public:
    struct Layout {
        QRect title, labels, header, map, legend;
        double rowHeight = 0;   // map height / layers
    };
    static constexpr double kTextPixelsPerToken = 11.0; // token text printed from this zoom on

    DumpSnapshotPtr snapshot;
    std::int64_t sequence = 0;
    Selection selection;
    bool dimOthers = true;
    ExpertPalette palette;
    std::vector<std::int64_t> tokenPositions; // of selection.tokenId, ascending
    QFont font;

    std::int64_t sequenceLength() const;
    // Where everything goes in `size` at `ppt` pixels per token.
    Layout layout(const QSize &size, double ppt, bool withTitle) const;
    // The view starts `begin` positions into the sequence; `window` holds its cells
    // (may be stale or null while a new one is computed).
    void paint(QPainter &p, const QSize &size, double begin, double ppt, const RoutingWindow *window,
               bool withTitle) const;
    // The expert of the legend swatch at `pos`, or -1.
    int legendExpertAt(const QSize &size, double ppt, const QPoint &pos) const;

private:
    void paintCells(QPainter &p, const Layout &lay, double begin, double ppt, const RoutingWindow &w) const;
    void paintHeader(QPainter &p, const Layout &lay, double begin, double ppt) const;
    void paintLegend(QPainter &p, const Layout &lay) const;
};

} // namespace moescope::ui
