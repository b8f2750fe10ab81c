#pragma once
// The routing map: the positions of one sequence across, the layers down, each cell
// coloured by the token's best expert there (categorical palette, no blending
// between cells). The token axis scrolls and zooms from the whole sequence down to
// a few dozen tokens, where each token's text is printed above its column.
//
// This class is the viewport and its input: which positions are shown, and the mouse
// and keys that change that. Only what the screen can show is computed: the visible
// positions are binned into at most one column per pixel by RoutingMapBinner (the
// latest request wins; meanwhile the previous window is drawn stretched to the new
// view, so scrolling stays smooth). RoutingMapPainter draws, RoutingMapToolTip
// explains, and exports draw through renderRoutingMap like every other door out.
//
// Mouse: wheel zooms around the cursor, Shift+wheel or drag pans, click selects the
// cell's token, layer and expert, double-click zooms in. Keys: + - Left Right Home End.
#include "DumpSnapshot.h"
#include "ExpertPalette.h"
#include "RoutingMapChart.h"
#include "Selection.h"
#include "export/ChartSource.h"

#include <QAbstractScrollArea>

#include <span>

namespace moescope::ui {

class RoutingMapBinner;
class RoutingMapToolTip;
struct RoutingMapScene;

class RoutingMapCanvas : public QAbstractScrollArea, public ChartSource {
    Q_OBJECT
public:
    explicit RoutingMapCanvas(QWidget *parent = nullptr);

    void setSnapshot(const DumpSnapshotPtr &snapshot);
    void setSequence(std::int64_t sequence);
    std::int64_t sequence() const { return m_sequence; }
    void setSelection(const Selection &selection);
    const Selection &selection() const { return m_selection; }
    // Positions of the selected token id (all sequences), ascending: a slice of the
    // snapshot's index, so nothing is scanned when the selection changes.
    std::span<const std::int64_t> tokenPositions() const;
    void setDimOthers(bool dim);
    bool dimOthers() const { return m_dimOthers; }
    // What the map says with no snapshot shown (default "No dump loaded").
    void setEmptyText(const QString &text)
    {
        m_emptyText = text;
        update();
    }
    QString emptyText() const { return m_emptyText; }

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
    bool hasChartData() const override { return bool(m_snapshot); }
    QSize defaultExportSize() const override;
    void renderChart(QPainter &painter, const QSize &size) override;
    void writeCsv(QTextStream &out) const override;
    // What renderChart and writeCsv draw: the view's sequence, selection and (once
    // shown on screen) its positions; before that, the whole sequence.
    RoutingMapParameters chartParameters() const;

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

private:
    double minPixelsPerToken(int width) const;
    std::int64_t sequenceLength() const;
    int mapWidth() const; // of the map's columns in the viewport
    // What the viewport shows now, for the painter.
    RoutingMapScene scene() const;
    void clampView();
    void syncScrollBar();
    void viewMoved();
    // Asks the binner for the cells of the current view.
    void requestWindow();
    bool handleToolTip(const QPoint &pos, const QPoint &globalPos);
    void moveViewTo(double begin);

    // What is shown: the dump, its sequence, the selection and the expert colours.
    DumpSnapshotPtr m_snapshot;
    std::int64_t m_sequence = 0;
    Selection m_selection;
    bool m_dimOthers = true;
    QString m_emptyText;
    ExpertPalette m_palette;
    // Where: positions relative to the sequence start.
    double m_viewBegin = 0;
    double m_pixelsPerToken = 1;
    bool m_fitted = true;
    RoutingMapBinner *m_bins;
    RoutingMapToolTip *m_toolTip;
    QPoint m_pressPos;
    double m_pressViewBegin = 0;
    bool m_dragging = false;
    bool m_updatingScrollBar = false;
};

} // namespace moescope::ui
