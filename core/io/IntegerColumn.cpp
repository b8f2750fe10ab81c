#include "io/IntegerColumn.h"

#include <cstring>

namespace moescope::io {

namespace {

bool littleEndianHost()
{
    const std::uint16_t one = 1;
    unsigned char first = 0;
    std::memcpy(&first, &one, 1);
    return first == 1;
}

// n values of `width` bytes in the file's byte order, widened to int64.
template <typename T>
void widen(const unsigned char *raw, std::size_t n, bool swap, std::int64_t *out)
{
    for (std::size_t i = 0; i < n; ++i) {
        unsigned char bytes[sizeof(T)];
        std::memcpy(bytes, raw + i * sizeof(T), sizeof(T));
        if (swap)
            for (std::size_t b = 0; b < sizeof(T) / 2; ++b)
                std::swap(bytes[b], bytes[sizeof(T) - 1 - b]);
        T v;
        std::memcpy(&v, bytes, sizeof(T));
        out[i] = std::int64_t(v); // a uint64 above INT64_MAX wraps negative: the range checks refuse it
    }
}

} // namespace

IntegerColumn integerColumn(hid_t dataset, const Site &site)
{
    IntegerColumn c;
    c.dataset = dataset;
    const Handle type = typeOf(dataset, site);
    c.width = H5Tget_size(type.get());
    c.isSigned = H5Tget_sign(type.get()) != H5T_SGN_NONE;
    c.order = H5Tget_order(type.get());
    const bool plainOrder = c.order == H5T_ORDER_LE || c.order == H5T_ORDER_BE;
    if (plainOrder && (c.width == 1 || c.width == 2 || c.width == 4 || c.width == 8))
        c.chunks = compressedLayout(dataset);
    return c;
}

void readIntegerColumn(const IntegerColumn &column, const Site &site, std::uint64_t begin, std::uint64_t count,
                       std::int64_t *out)
{
    if (count == 0)
        return;
    if (column.chunks && column.chunks->columns == 1) {
        // Widened chunk by chunk on the threads that inflate them, straight into `out`:
        // no buffer of the stored bytes (a fresh one per call was faulted in page by
        // page, most of the time of reading 10 M token ids).
        const bool swap = (column.order == H5T_ORDER_LE) != littleEndianHost();
        const auto widenRows = [&](const unsigned char *p, std::uint64_t first, std::uint64_t rows) {
            std::int64_t *to = out + (first - begin);
            const std::size_t n = std::size_t(rows);
            switch (column.width * 2 + (column.isSigned ? 1 : 0)) {
            case 2: widen<std::uint8_t>(p, n, swap, to); break;
            case 3: widen<std::int8_t>(p, n, swap, to); break;
            case 4: widen<std::uint16_t>(p, n, swap, to); break;
            case 5: widen<std::int16_t>(p, n, swap, to); break;
            case 8: widen<std::uint32_t>(p, n, swap, to); break;
            case 9: widen<std::int32_t>(p, n, swap, to); break;
            case 16: widen<std::uint64_t>(p, n, swap, to); break;
            default: widen<std::int64_t>(p, n, swap, to); break;
            }
        };
        if (readCompressedRows(column.dataset, *column.chunks, begin, count, widenRows))
            return;
    }
    readRows(column.dataset, site, H5T_NATIVE_INT64, begin, count, out);
}

} // namespace moescope::io
