#include "ExpertPalette.h"

#include <algorithm>
#include <cmath>

namespace moescope::ui {

namespace {

bool oklabToSrgb(double L, double a, double b, double rgb[3])
{
    const double l_ = L + 0.3963377774 * a + 0.2158037573 * b;
    const double m_ = L - 0.1055613458 * a - 0.0638541728 * b;
    const double s_ = L - 0.0894841775 * a - 1.2914855480 * b;
    const double l = l_ * l_ * l_, m = m_ * m_ * m_, s = s_ * s_ * s_;
    const double lin[3] = {4.0767416621 * l - 3.3077115913 * m + 0.2309699292 * s,
                           -1.2684380046 * l + 2.6097574011 * m - 0.3413193965 * s,
                           -0.0041960863 * l - 0.7034186147 * m + 1.7076147010 * s};
    bool inGamut = true;
    for (int i = 0; i < 3; ++i) {
        const double x = lin[i];
        if (x < -1e-4 || x > 1.0001)
            inGamut = false;
        const double c = std::clamp(x, 0.0, 1.0);
        rgb[i] = c <= 0.0031308 ? 12.92 * c : 1.055 * std::pow(c, 1.0 / 2.4) - 0.055;
    }
    return inGamut;
}

} // namespace

QColor oklchColour(double lightness, double chroma, double hueDegrees)
{
    const double h = hueDegrees * M_PI / 180.0;
    double rgb[3];
    // Halve the step toward the largest chroma that fits sRGB, keeping hue and lightness.
    double lo = 0.0, hi = chroma;
    if (!oklabToSrgb(lightness, chroma * std::cos(h), chroma * std::sin(h), rgb)) {
        for (int i = 0; i < 18; ++i) {
            const double mid = (lo + hi) / 2;
            if (oklabToSrgb(lightness, mid * std::cos(h), mid * std::sin(h), rgb))
                lo = mid;
            else
                hi = mid;
        }
        oklabToSrgb(lightness, lo * std::cos(h), lo * std::sin(h), rgb);
    }
    return QColor::fromRgbF(float(rgb[0]), float(rgb[1]), float(rgb[2]));
}

ExpertPalette::ExpertPalette(int numExperts) : m_numExperts(std::max(1, numExperts))
{
    const int n = std::min(m_numExperts, kDistinctColours);
    // Lightness tiers: one for few experts; up to four as the count grows, each tier
    // keeping a chroma its lightness can carry.
    const int tiers = n <= 12 ? 1 : n <= 24 ? 2 : n <= 40 ? 3 : 4;
    static const double kLightness[4][4] = {
        {0.68, 0, 0, 0}, {0.62, 0.80, 0, 0}, {0.55, 0.72, 0.86, 0}, {0.50, 0.64, 0.77, 0.89}};
    static const double kChroma[4] = {0.15, 0.14, 0.12, 0.10};
    const int hues = (n + tiers - 1) / tiers;
    for (int e = 0; e < n; ++e) {
        const int tier = e % tiers;
        const int slot = e / tiers;
        // Tiers are offset by a fraction of a hue step so equal hues never repeat.
        const double hue = 25.0 + 360.0 * (slot + double(tier) / tiers * 0.5) / hues;
        const double light = kLightness[tiers - 1][tier];
        const double chroma = kChroma[tier] * (light > 0.85 ? 0.9 : 1.0);
        m_colours[e] = oklchColour(light, chroma, hue);
    }
}

QColor ExpertPalette::colour(int expert) const
{
    if (expert < 0)
        return QColor(0xe4, 0xe4, 0xe4);
    return m_colours[expert % std::min(m_numExperts, kDistinctColours)];
}

QColor ExpertPalette::dimmed(const QColor &c, double amount)
{
    const QColor bg(0xfa, 0xfa, 0xfa);
    auto mix = [amount](int a, int b) { return int(std::lround(a * (1 - amount) + b * amount)); };
    return QColor(mix(c.red(), bg.red()), mix(c.green(), bg.green()), mix(c.blue(), bg.blue()));
}

QColor ExpertPalette::emphasised(const QColor &c)
{
    const double lightness = c.lightnessF();
    return lightness > 0.5 ? c.darker(int(100 + (lightness - 0.5) * 160)) : c;
}

namespace LoadColours {
QColor hot() { return QColor(0xd6, 0x3b, 0x2f); }
QColor cold() { return QColor(0x2f, 0x7f, 0xc1); }
QColor normal() { return QColor(0x8c, 0x99, 0xa6); }
QColor selection() { return QColor(0x11, 0x11, 0x11); }
} // namespace LoadColours

} // namespace moescope::ui
