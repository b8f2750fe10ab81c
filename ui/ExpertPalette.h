#pragma once
// Colours for categorical expert ids and for load states, shared by every view and
// export so an expert has the same colour everywhere.
//
// Expert colours are spaced evenly in OKLCH (a perceptual colour space), so no two
// of them are much closer than the others: up to 12 experts differ by hue alone; up
// to 64 by hue and by one of four lightness tiers, with neighbouring ids on different
// tiers. Beyond 64 the 64 colours repeat (id mod 64); views then rely on the
// highlight of the selected expert and on tooltips for exact ids.
#include <QColor>

namespace moescope::ui {

class ExpertPalette {
public:
    static constexpr int kDistinctColours = 64;

    explicit ExpertPalette(int numExperts = 8);
    int numExperts() const { return m_numExperts; }
    bool repeats() const { return m_numExperts > kDistinctColours; }
    QColor colour(int expert) const;            // invalid expert (-1): light grey
    // The colour of a cell that does not hold the highlighted expert: faded toward
    // the background so highlighted cells stand out while hues stay recognisable.
    static QColor dimmed(const QColor &colour, double amount = 0.78);
    // A colour dark enough to stand out among dimmed cells (light tiers darkened).
    static QColor emphasised(const QColor &colour);

private:
    int m_numExperts;
    QColor m_colours[kDistinctColours];
};

// Load states (routing.md "Load"): the same three colours in the histogram, the
// heatmap marks and the what-if table.
namespace LoadColours {
QColor hot();
QColor cold();
QColor normal();
QColor selection();   // outline of the selected expert / layer / token
} // namespace LoadColours

// An sRGB colour from OKLCH lightness (0..1), chroma and hue (degrees); chroma is
// reduced until the colour fits sRGB.
QColor oklchColour(double lightness, double chroma, double hueDegrees);

} // namespace moescope::ui
