#include "io/DeclaredSize.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace moescope::io {

namespace {
std::string shapeText(const std::vector<hsize_t> &dims)
{
    std::string s = "[";
    for (std::size_t i = 0; i < dims.size(); ++i)
        s += (i ? ", " : "") + std::to_string(dims[i]);
    return s + "]";
}

std::string bytesText(double bytes)
{
    char text[64];
    if (bytes >= 1e12)
        std::snprintf(text, sizeof text, "%.3g TB", bytes / 1e12);
    else if (bytes >= 1e9)
        std::snprintf(text, sizeof text, "%.3g GB", bytes / 1e9);
    else if (bytes >= 1e6)
        std::snprintf(text, sizeof text, "%.3g MB", bytes / 1e6);
    else
        std::snprintf(text, sizeof text, "%.0f bytes", bytes);
    return text;
}
} // namespace

void checkDeclaredSize(hid_t dataset, const std::vector<hsize_t> &dims, const Site &site, Declared declared)
{
    const Handle create(H5Dget_create_plist(dataset));
    const Handle type(H5Dget_type(dataset));
    if (!create.valid() || !type.valid())
        site.fail("cannot read how it is stored (" + lastHdf5Message() + ")");
    const H5D_layout_t layout = H5Pget_layout(create.get());
    if (layout == H5D_VIRTUAL)
        site.fail("is a virtual dataset, made of other files' data; dumps must be self-contained");
    if (H5Pget_external_count(create.get()) > 0)
        site.fail("keeps its values in external files; dumps must be self-contained");

    if (layout == H5D_CHUNKED && !dims.empty()) {
        std::vector<hsize_t> chunk(dims.size(), 0);
        if (H5Pget_chunk(create.get(), int(chunk.size()), chunk.data()) != int(chunk.size()))
            site.fail("cannot read its chunk shape (" + lastHdf5Message() + ")");
        double chunks = 1;
        for (std::size_t i = 0; i < dims.size(); ++i) {
            if (chunk[i] == 0)
                site.fail("has a chunk dimension of 0");
            chunks *= std::ceil(double(dims[i]) / double(chunk[i]));
        }
        if (chunks > kMaxChunks)
            site.fail("declares " + shapeText(dims) + " values in " + std::to_string(std::llround(std::min(chunks, 9e18))) +
                      " chunks of " + shapeText(chunk) + "; at most " + std::to_string(std::llround(kMaxChunks)) +
                      " chunks are read (rewrite it with larger chunks)");
    }

    if (declared == Declared::MayBeSparse)
        return;
    // In floating point: the product of a hostile extent overflows any integer.
    double values = 1;
    for (hsize_t d : dims)
        values *= double(d);
    const double bytes = values * double(H5Tget_size(type.get()));
    hsize_t fileSize = 0;
    {
        const Handle file(H5Iget_file_id(dataset));
        if (!file.valid() || H5Fget_filesize(file.get(), &fileSize) < 0)
            site.fail("cannot read the size of its file (" + lastHdf5Message() + ")");
    }
    const int filters = layout == H5D_CHUNKED ? std::max(0, H5Pget_nfilters(create.get())) : 0;
    const double limit = double(fileSize) * (filters > 0 ? kMaxInflation : 1.0) + 4096;
    if (bytes > limit)
        site.fail("declares " + shapeText(dims) + " values (" + bytesText(bytes) +
                  "), more than its file of " + bytesText(double(fileSize)) + " can hold" +
                  (filters > 0 ? " even compressed" : "") + ": the file is damaged or truncated");
}

} // namespace moescope::io
