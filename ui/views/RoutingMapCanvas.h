#pragma once
// The routing map: the positions of one sequence across, the layers down, each cell
// coloured by the token's best expert there (categorical palette, no blending
// between cells). The token axis scrolls and zooms from the whole sequence down to
// a few dozen tokens, where each token's text is printed above its column.
//
// Only what the screen can show is computed: the visible positions are binned into
// at most one column per pixel (binRoutingWindow), on the GUI thread when that is
// small and in a background job (latest request wins) otherwise; meanwhile the
// previous window is drawn stretched to the new view, so scrolling stays smooth.
//
// Mouse: wheel zooms around the cursor, Shift+wheel or drag pans, click selects the
// cell's token, layer and expert, double-click zooms in. Keys: + - Left Right Home End.
#include "DumpSnapshot.h"
#include "RoutingMapPainter.h"
#include "Selection.h"
#include "analysis/RoutingWindow.h"
#include "export/ChartSource.h"

#include <QAbstractScrollArea>

#include <optional>

namespace moescope::ui {

class JobSlot;

class RoutingMapCanvas : public QAbstractScrollArea, public ChartSource {
    Q_OBJECT
public:
    explicit RoutingMapCanvas(QWidget *parent = nullptr);

    void setSnapshot(const DumpSnapshotPtr &snapshot);
    void setSequence(std::int64_t sequence);
    std::int64_t sequence() const { return m_scene.sequence; }
    void setSelection(const Selection &selection);
    const Selection &selection() const { return m_scene.selection; }
    // Positions of the selected token id (all sequences), ascending.
    const std::vector<std::int64_t> &tokenPositions() const { return m_scene.tokenPositions; }
    void setDimOthers(bool dim);
    bool dimOthers() const { return m_scene.dimOthers; }

    // The view, in positions relative to the sequence start.
    double viewBegin() const { return m_viewBegin; }
    double pixelsPerToken() const { return m_pixelsPerToken; }
    double visibleTokens() const;
    void zoomBy(double factor, double anchorX = -1);
    void zoomToFit();
    // Shows [begin, begin + count) of the sequence (clamped to the zoom limits).
    void showRange(double begin, double count);
    // Scrolls so that dump position `position` is visible, zooming in to read it.
    void revealPosition(std::int64_t position);

    QString chartName() const override { return QStringLiteral("routing-map"); }
    bool hasChartData() const override { return bool(m_scene.snapshot); }
    QSize defaultExportSize() const override;
    void renderChart(QPainter &painter, const QSize &size) override;
    void writeCsv(QTextStream &out) const override;

    // The dump position and layer of the cell at a viewport point (cell mode or bins:
    // the first position of the bin); false outside the map.
    bool cellAt(const QPoint &viewportPos, std::int64_t &position, int &layer) const;

signals:
    void cellClicked(qint64 position, qint64 tokenId, int layer, int expert);
    void expertClicked(int expert); // from the colour legend
    void viewChanged();
    void exportRequested();

protected:
    void paintEvent(QPaintEvent *event) override;
    void resizeEvent(QResizeEvent *event) override;
    void scrollContentsBy(int dx, int dy) override;
    bool viewportEvent(QEvent *event) override;
    void wheelEvent(QWheelEvent *event) override;
    void mousePressEvent(QMouseEvent *event) override;
    void mouseMoveEvent(QMouseEvent *event) override;
    void mouseReleaseEvent(QMouseEvent *event) override;
    void mouseDoubleClickEvent(QMouseEvent *event) override;
    void keyPressEvent(QKeyEvent *event) override;
    void contextMenuEvent(QContextMenuEvent *event) override;
    void changeEvent(QEvent *event) override;

private:
    double minPixelsPerToken(int mapWidth) const;
    std::int64_t sequenceLength() const;
    void clampView();
    void syncScrollBar();
    void viewMoved();
    // The window for the current view; asks for it in the background when big.
    void requestWindow();
    RoutingWindowRequest windowRequest(double begin, double ppt, int mapWidth) const;
    RoutingWindow computeWindow(const RoutingWindowRequest &request) const;
    QString cellToolTip(std::int64_t position, int layer) const;
    void showGatesToolTip(std::int64_t position, int layer, const QPoint &globalPos);

    RoutingMapPainter m_scene; // what is shown: dump, sequence, selection, colours
    double m_viewBegin = 0;
    double m_pixelsPerToken = 1;
    bool m_fitted = true;
    std::optional<RoutingWindow> m_window;
    RoutingWindowRequest m_windowRequest{};
    bool m_windowPending = false;
    JobSlot *m_windowJob;
    JobSlot *m_gatesJob;
    QPoint m_pressPos;
    double m_pressViewBegin = 0;
    bool m_dragging = false;
    bool m_updatingScrollBar = false;
};

} // namespace moescope::ui
