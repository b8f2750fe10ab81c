#pragma once
// What the routing map says about the thing under the mouse: a single token's cell
// (its text, id, place and experts, then its gate weights once read from the dump in
// the background), a bin of several tokens, or a legend swatch.
#include "DumpSnapshot.h"

#include <QObject>
#include <QPoint>

#include <functional>

class QWidget;

namespace moescope {
struct TokenGates;
}

namespace moescope::ui {

class JobSlot;

class RoutingMapToolTip : public QObject {
    Q_OBJECT
public:
    // Tooltips are shown over `widget` (the map's viewport), which also owns this.
    explicit RoutingMapToolTip(QWidget *widget);

    static QString cellText(const DumpSnapshot &snapshot, std::int64_t sequence, std::int64_t position,
                            int layer);
    // A column of several tokens (`ppt` < 1 pixel per token) starting at `position`.
    static QString binText(const DumpSnapshot &snapshot, std::int64_t sequence, std::int64_t position,
                           int layer, double ppt);
    static QString legendText(int expert);
    static QString gatesText(const TokenGates &gates);

    // Shows cellText at `globalPos` at once, then reads the token's gate weights in the
    // background and adds them if the tooltip is still up and `stillOver()` says the
    // mouse is still on that cell.
    void showCell(const DumpSnapshotPtr &snapshot, std::int64_t sequence, std::int64_t position, int layer,
                  const QPoint &globalPos, std::function<bool()> stillOver);

private:
    QWidget *m_widget;
    JobSlot *m_gatesJob;
};

} // namespace moescope::ui
