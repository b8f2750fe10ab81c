#pragma once
// Real mouse clicks on the charts: the chart widget inside a PlotWidget receives the
// events, and the point to click is found through the chart's own hit test (cellAt,
// expertAt), so a test clicks where a user would without knowing the axes' pixels.
#include <QTest>
#include <QWidget>

#include <functional>
#include <optional>

namespace moescope::test {

// The QCustomPlot inside `plot`, where the mouse events go (tests do not include
// qcustomplot.h, so it is found by class name).
inline QWidget *chartCanvas(QWidget *plot)
{
    for (QWidget *w : plot->findChildren<QWidget *>())
        if (w->inherits("QCustomPlot"))
            return w;
    return nullptr;
}

// The first point of `canvas` (every 2 px) where `hits` holds; none while the chart
// has not been laid out or nothing hits.
inline std::optional<QPoint> pointWhere(QWidget *canvas, const std::function<bool(const QPoint &)> &hits)
{
    for (int y = 0; y < canvas->height(); y += 2)
        for (int x = 0; x < canvas->width(); x += 2)
            if (hits(QPoint(x, y)))
                return QPoint(x, y);
    return std::nullopt;
}

// Left-clicks `plot`'s chart at the first point where `hits` holds, waiting (up to
// `ms`) for the queued replot that lays the chart out. False if no point hits.
inline bool clickChartWhere(QWidget *plot, const std::function<bool(const QPoint &)> &hits, int ms = 5000)
{
    QWidget *canvas = chartCanvas(plot);
    if (!canvas)
        return false;
    std::optional<QPoint> point;
    if (!QTest::qWaitFor([&] { return (point = pointWhere(canvas, hits)).has_value(); }, ms))
        return false;
    QTest::mouseClick(canvas, Qt::LeftButton, {}, *point);
    return true;
}

} // namespace moescope::test
