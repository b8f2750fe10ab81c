#pragma once
// A run log of 20,000 steps x 58 layers x 256 experts (2.4 GB of counts as declared)
// written in seconds: every dataset has its full extent but only the chunks of
// steps 19,984 to 19,999 of layer 57 are written (there expert e got e + step index);
// the rest reads as the fill value, 0. Readers must get through it by hyperslab.
#include <hdf5.h>

#include <cstdint>
#include <string>
#include <vector>

namespace moescope::test {

inline constexpr hsize_t kLongSteps = 20000, kLongLayers = 58, kLongExperts = 256;

inline void writeLongRunLog(const std::string &path)
{
    const hsize_t N = kLongSteps, L = kLongLayers, E = kLongExperts;
    const hid_t file = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    const hid_t str = H5Tcopy(H5T_C_S1);
    H5Tset_size(str, 11);
    const hid_t scalar = H5Screate(H5S_SCALAR);
    const long long one = 1, experts = E;
    auto attr = [&](const char *name, hid_t type, const void *v) {
        const hid_t a = H5Acreate2(file, name, type, scalar, H5P_DEFAULT, H5P_DEFAULT);
        H5Awrite(a, type, v);
        H5Aclose(a);
    };
    attr("format", str, "moe-routing");
    attr("format_version", H5T_NATIVE_LLONG, &one);
    attr("num_experts", H5T_NATIVE_LLONG, &experts);
    const hid_t g = H5Gcreate2(file, "training", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    std::vector<std::int64_t> steps(N);
    for (hsize_t i = 0; i < N; ++i)
        steps[i] = std::int64_t(i * 10);
    const hid_t s1 = H5Screate_simple(1, &N, nullptr);
    const hid_t step = H5Dcreate2(g, "step", H5T_STD_I64LE, s1, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Dwrite(step, H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, steps.data());
    const hsize_t dims[3] = {N, L, E}, chunk[3] = {16, 1, E};
    const hid_t s3 = H5Screate_simple(3, dims, nullptr);
    const hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_chunk(dcpl, 3, chunk);
    H5Pset_deflate(dcpl, 1);
    const hid_t tpe = H5Dcreate2(g, "tokens_per_expert", H5T_STD_I64LE, s3, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    std::vector<std::int64_t> block(16 * E);
    for (hsize_t i = 0; i < 16; ++i)
        for (hsize_t e = 0; e < E; ++e)
            block[i * E + e] = std::int64_t(e + 19984 + i);
    const hsize_t start[3] = {19984, 57, 0}, count[3] = {16, 1, E};
    H5Sselect_hyperslab(s3, H5S_SELECT_SET, start, nullptr, count, nullptr);
    const hid_t mem = H5Screate_simple(3, count, nullptr);
    H5Dwrite(tpe, H5T_NATIVE_INT64, mem, s3, H5P_DEFAULT, block.data());
    for (hid_t id : {mem, s3, s1, scalar})
        H5Sclose(id);
    H5Pclose(dcpl);
    H5Dclose(tpe);
    H5Dclose(step);
    H5Gclose(g);
    H5Tclose(str);
    H5Fclose(file);
}

} // namespace moescope::test
