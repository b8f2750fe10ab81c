#include "PlotStyle.h"

#include <cmath>

namespace moescope::ui::PlotStyle {

QFont labelFont()
{
    QFont f = QApplication::font();
    f.setPointSizeF(std::max(7.5, f.pointSizeF() * 0.9));
    return f;
}

QFont titleFont()
{
    QFont f = QApplication::font();
    f.setBold(true);
    return f;
}

void styleAxisRect(QCPAxisRect *rect)
{
    const QPen axisPen(QColor(0x70, 0x70, 0x70), 1);
    const QPen gridPen(QColor(0xe6, 0xe6, 0xe6), 1, Qt::SolidLine);
    for (QCPAxis *axis : rect->axes()) {
        axis->setBasePen(axisPen);
        axis->setTickPen(axisPen);
        axis->setSubTickPen(Qt::NoPen);
        axis->setTickLabelFont(labelFont());
        axis->setLabelFont(labelFont());
        axis->setTickLabelColor(QColor(0x30, 0x30, 0x30));
        axis->grid()->setPen(gridPen);
        axis->grid()->setZeroLinePen(Qt::NoPen);
    }
}

void apply(QCustomPlot *plot)
{
    plot->setBackground(Qt::white);
    plot->setAntialiasedElements(QCP::aeAll);
    plot->setNotAntialiasedElements(QCP::aeGrid | QCP::aeAxes);
    // Sharp on high-DPI screens; the export path sets its own scale.
    plot->setBufferDevicePixelRatio(plot->devicePixelRatioF());
    if (plot->axisRect())
        styleAxisRect(plot->axisRect());
    plot->setPlottingHint(QCP::phCacheLabels, true);
}

double ratioValue(double count, double mean)
{
    if (!(mean > 0))
        return 0;
    if (count <= 0)
        return -kRatioRange;
    return std::clamp(std::log2(count / mean), -kRatioRange, kRatioRange);
}

QCPColorGradient loadGradient()
{
    QCPColorGradient g;
    g.clearColorStops();
    g.setColorInterpolation(QCPColorGradient::ciRGB);
    g.setColorStopAt(0.0, QColor(0x17, 0x3f, 0x8a));
    g.setColorStopAt(0.22, QColor(0x5b, 0x93, 0xcf));
    g.setColorStopAt(0.5, QColor(0xf3, 0xf1, 0xec));
    g.setColorStopAt(0.70, QColor(0xf2, 0xa0, 0x5c));
    g.setColorStopAt(1.0, QColor(0x9e, 0x15, 0x1c));
    g.setLevelCount(256);
    return g;
}

int expertTickStep(int numExperts)
{
    if (numExperts <= 16)
        return 1;
    if (numExperts <= 256)
        return numExperts <= 64 ? 4 : 16;
    int step = 32; // beyond 256: at most about 10 labels
    while (step * 10 < numExperts)
        step *= 2;
    return step;
}

QSharedPointer<QCPAxisTickerFixed> expertTicker(int numExperts)
{
    QSharedPointer<QCPAxisTickerFixed> ticks(new QCPAxisTickerFixed);
    ticks->setTickStep(expertTickStep(numExperts));
    ticks->setScaleStrategy(QCPAxisTickerFixed::ssNone);
    return ticks;
}

QSharedPointer<QCPAxisTickerText> ratioTicker()
{
    QSharedPointer<QCPAxisTickerText> ticker(new QCPAxisTickerText);
    ticker->addTick(-3, QStringLiteral("\u215b\u00d7"));
    ticker->addTick(-2, QStringLiteral("\u00bc\u00d7"));
    ticker->addTick(-1, QStringLiteral("\u00bd\u00d7"));
    ticker->addTick(0, QStringLiteral("1\u00d7 mean"));
    ticker->addTick(1, QStringLiteral("2\u00d7"));
    ticker->addTick(2, QStringLiteral("4\u00d7"));
    ticker->addTick(3, QStringLiteral("8\u00d7"));
    return ticker;
}

} // namespace moescope::ui::PlotStyle
