// A training job's stand-in for the tests: writes a run log step by step the way
// dump-format.md says a live writer must (SWMR, every dataset extended, `step` last,
// flushed), printing each step's number once it is flushed.
//   moescope-test-runlog-writer PATH [--layers L] [--experts E] [--steps N]
//       [--first S] [--interval-ms T] [--collapse-from S] [--collapse-layer l]
//       [--hang-mid-append S]   at step S extend every dataset but `step`, then wait
//       [--hold]                after the last step keep the file open and wait
//       [--no-swmr]             write an ordinary file (no SWMR), closed at the end
//       [--append]              add the steps to an existing file written --no-swmr
#include "support/RunLogPattern.h"

#include <hdf5.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

using moescope::test::RunLogPattern;

namespace {

void check(bool ok, const char *what)
{
    if (!ok) {
        std::fprintf(stderr, "runlog writer: %s failed\n", what);
        std::exit(1);
    }
}

hid_t extendable(hid_t group, const char *name, hid_t type, std::vector<hsize_t> rowShape)
{
    std::vector<hsize_t> dims{0}, maxdims{H5S_UNLIMITED}, chunk{16};
    for (hsize_t d : rowShape) {
        dims.push_back(d);
        maxdims.push_back(d);
        chunk.push_back(d);
    }
    const hid_t space = H5Screate_simple(int(dims.size()), dims.data(), maxdims.data());
    const hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_chunk(dcpl, int(chunk.size()), chunk.data());
    const hid_t ds = H5Dcreate2(group, name, type, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    check(ds >= 0, name);
    H5Pclose(dcpl);
    H5Sclose(space);
    return ds;
}

// Appends one row (rowElements values of memType) to a dataset of N rows.
void appendRow(hid_t ds, hid_t memType, const void *row)
{
    const hid_t space0 = H5Dget_space(ds);
    std::vector<hsize_t> dims(std::size_t(H5Sget_simple_extent_ndims(space0)));
    H5Sget_simple_extent_dims(space0, dims.data(), nullptr);
    H5Sclose(space0);
    std::vector<hsize_t> start(dims.size(), 0), count = dims;
    start[0] = dims[0];
    count[0] = 1;
    dims[0] += 1;
    check(H5Dset_extent(ds, dims.data()) >= 0, "extend");
    const hid_t file = H5Dget_space(ds);
    H5Sselect_hyperslab(file, H5S_SELECT_SET, start.data(), nullptr, count.data(), nullptr);
    const hid_t mem = H5Screate_simple(int(count.size()), count.data(), nullptr);
    check(H5Dwrite(ds, memType, mem, file, H5P_DEFAULT, row) >= 0, "write");
    H5Sclose(mem);
    H5Sclose(file);
}

void waitForever()
{
    for (;;)
        std::this_thread::sleep_for(std::chrono::seconds(1));
}

} // namespace

int main(int argc, char **argv)
{
    if (argc < 2) {
        std::fprintf(stderr, "usage: %s PATH [options]\n", argv[0]);
        return 2;
    }
    const std::string path = argv[1];
    RunLogPattern p;
    std::int64_t steps = 10, first = 1, hangAt = -1;
    int intervalMs = 0;
    bool hold = false, swmr = true, append = false;
    for (int i = 2; i < argc; ++i) {
        const std::string a = argv[i];
        auto next = [&] { return i + 1 < argc ? std::atoll(argv[++i]) : 0LL; };
        if (a == "--layers") p.layers = int(next());
        else if (a == "--experts") p.experts = int(next());
        else if (a == "--steps") steps = next();
        else if (a == "--first") first = next();
        else if (a == "--interval-ms") intervalMs = int(next());
        else if (a == "--collapse-from") p.collapseFrom = next();
        else if (a == "--collapse-layer") p.collapseLayer = int(next());
        else if (a == "--hang-mid-append") hangAt = next();
        else if (a == "--hold") hold = true;
        else if (a == "--no-swmr") swmr = false;
        else if (a == "--append") append = true, swmr = false;
    }
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
    const hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    if (swmr)
        H5Pset_libver_bounds(fapl, H5F_LIBVER_V110, H5F_LIBVER_V110);
    if (append) {
        const hid_t file = H5Fopen(path.c_str(), H5F_ACC_RDWR, fapl);
        check(file >= 0, "open for appending");
        const hid_t lb = H5Dopen2(file, "/training/lb_loss", H5P_DEFAULT);
        const hid_t tpe = H5Dopen2(file, "/training/tokens_per_expert", H5P_DEFAULT);
        const hid_t step = H5Dopen2(file, "/training/step", H5P_DEFAULT);
        check(lb >= 0 && tpe >= 0 && step >= 0, "open the datasets");
        for (std::int64_t s = first; s < first + steps; ++s) {
            std::vector<double> lbRow(std::size_t(p.layers));
            for (int l = 0; l < p.layers; ++l)
                lbRow[std::size_t(l)] = p.lbLoss(s, l);
            appendRow(lb, H5T_NATIVE_DOUBLE, lbRow.data());
            appendRow(tpe, H5T_NATIVE_INT64, p.counts(s).data());
            appendRow(step, H5T_NATIVE_INT64, &s);
        }
        for (hid_t ds : {lb, tpe, step})
            H5Dclose(ds);
        return H5Fclose(file) >= 0 ? 0 : 1;
    }
    ::unlink(path.c_str()); // a new run is a new file, not the old one rewritten
    const hid_t file = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    check(file >= 0, "create");
    auto attr = [&](const char *name, hid_t type, const void *value) {
        const hid_t space = H5Screate(H5S_SCALAR);
        const hid_t a = H5Acreate2(file, name, type, space, H5P_DEFAULT, H5P_DEFAULT);
        H5Awrite(a, type, value);
        H5Aclose(a);
        H5Sclose(space);
    };
    const hid_t str = H5Tcopy(H5T_C_S1);
    H5Tset_size(str, 11);
    attr("format", str, "moe-routing");
    const long long version = 1, experts = p.experts, k = 2;
    attr("format_version", H5T_NATIVE_LLONG, &version);
    attr("num_experts", H5T_NATIVE_LLONG, &experts);
    attr("top_k", H5T_NATIVE_LLONG, &k);
    const hid_t g = H5Gcreate2(file, "training", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    const hsize_t L = hsize_t(p.layers), E = hsize_t(p.experts);
    const hid_t lb = extendable(g, "lb_loss", H5T_IEEE_F32LE, {L});
    const hid_t tpe = extendable(g, "tokens_per_expert", H5T_STD_I64LE, {L, E});
    const hid_t step = extendable(g, "step", H5T_STD_I64LE, {});
    if (swmr)
        check(H5Fstart_swmr_write(file) >= 0, "start SWMR");
    for (std::int64_t s = first; s < first + steps; ++s) {
        std::vector<double> lbRow(L);
        for (int l = 0; l < p.layers; ++l)
            lbRow[std::size_t(l)] = p.lbLoss(s, l);
        appendRow(lb, H5T_NATIVE_DOUBLE, lbRow.data());
        appendRow(tpe, H5T_NATIVE_INT64, p.counts(s).data());
        if (s == hangAt) {
            H5Fflush(file, H5F_SCOPE_GLOBAL);
            std::printf("mid-append %lld\n", static_cast<long long>(s));
            std::fflush(stdout);
            waitForever();
        }
        appendRow(step, H5T_NATIVE_INT64, &s);
        H5Fflush(file, H5F_SCOPE_GLOBAL);
        std::printf("%lld\n", static_cast<long long>(s));
        std::fflush(stdout);
        if (intervalMs)
            std::this_thread::sleep_for(std::chrono::milliseconds(intervalMs));
    }
    if (hold)
        waitForever();
    for (hid_t ds : {lb, tpe, step})
        H5Dclose(ds);
    H5Gclose(g);
    H5Tclose(str);
    H5Pclose(fapl);
    return H5Fclose(file) >= 0 ? 0 : 1;
}
