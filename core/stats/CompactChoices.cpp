#include "stats/CompactChoices.h"

#include <stdexcept>

namespace moescope {

namespace {
template <typename Id>
void narrow(const LayerChoices &from, CompactChoices &to)
{
    to.ids.resize(from.ids.size() * sizeof(Id)); // every element written below
    narrowIds(from.ids.data(), from.ids.size(), reinterpret_cast<Id *>(to.ids.data()));
}

template <typename Id>
void widen(const CompactChoices &from, std::size_t first, std::size_t n, std::int32_t *out)
{
    const Id *in = from.rowsAs<Id>() + first;
    for (std::size_t i = 0; i < n; ++i)
        out[i] = std::int32_t(in[i]);
}
} // namespace

int compactIdBytes(int numExperts)
{
    if (numExperts <= 0 || numExperts > 65536)
        return 0;
    return numExperts <= 256 ? 1 : 2;
}

int compactIdBytes(const LayerChoices &c)
{
    return c.gateProbs.empty() ? compactIdBytes(c.numExperts) : 0;
}

CompactChoices compactChoices(const LayerChoices &c)
{
    const int width = compactIdBytes(c);
    if (width == 0)
        throw std::invalid_argument("compactChoices: these choices cannot be held in 16 bits");
    CompactChoices r;
    r.numExperts = c.numExperts;
    r.topK = c.topK;
    r.idBytes = width;
    if (width == 1)
        narrow<std::uint8_t>(c, r);
    else
        narrow<std::uint16_t>(c, r);
    r.valid.assign(c.valid.begin(), c.valid.end());
    return r;
}

void CompactChoices::widenRows(std::int64_t from, std::int64_t n, std::int32_t *out) const
{
    const std::size_t k = std::size_t(topK);
    if (idBytes == 1)
        widen<std::uint8_t>(*this, std::size_t(from) * k, std::size_t(n) * k, out);
    else
        widen<std::uint16_t>(*this, std::size_t(from) * k, std::size_t(n) * k, out);
}

LayerChoices widenChoices(const CompactChoices &c)
{
    LayerChoices r;
    r.numExperts = c.numExperts;
    r.topK = c.topK;
    r.ids.resize(c.valid.size() * std::size_t(c.topK)); // every element written below
    c.widenRows(0, c.numPositions(), r.ids.data());
    r.valid.assign(c.valid.begin(), c.valid.end());
    return r;
}

} // namespace moescope
