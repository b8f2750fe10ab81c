#pragma once
// The look every chart shares (fonts, grid, margins) and the colour scale for "load
// relative to the mean", used by the overview heatmap and the training heatmap.
// Included only by ui/plots/*.cpp.
#include <qcustomplot.h>

namespace moescope::ui::PlotStyle {

void apply(QCustomPlot *plot);
void styleAxisRect(QCPAxisRect *rect);
QFont titleFont();
QFont labelFont();

// Load ratio c / mean on a log2 scale clamped to [-kRatioRange, kRatioRange]:
// blue below the mean (cold), a light neutral at the mean, red above (hot).
inline constexpr double kRatioRange = 3.0;
double ratioValue(double count, double mean);
QCPColorGradient loadGradient();
// Every how many experts an expert axis is labelled: every one up to 16, then powers
// of two that keep 3- and 4-digit ids from running into each other.
int expertTickStep(int numExperts);
// Fixed ticks at expertTickStep for an axis of expert ids.
QSharedPointer<QCPAxisTickerFixed> expertTicker(int numExperts);
// Ticks "1/8x ... 1x ... 8x" for an axis showing ratioValue.
QSharedPointer<QCPAxisTickerText> ratioTicker();

} // namespace moescope::ui::PlotStyle
