// The benchmark dumps and child-process timing shared by the benchmarks (BenchDump.h).
#include "BenchDump.h"

#include <fcntl.h>
#include <hdf5.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

extern char **environ;

namespace moescope::bench {


double seconds(std::chrono::steady_clock::time_point since)
{
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
}

void check(bool ok, const char *what)
{
    if (!ok) {
        std::fprintf(stderr, "bench: %s failed\n", what);
        std::exit(1);
    }
}

// IEEE half of a float, round to nearest even (normal range is all the data needs).
std::uint16_t toHalf(float f)
{
    std::uint32_t x;
    std::memcpy(&x, &f, 4);
    const std::uint32_t sign = (x >> 16) & 0x8000u;
    const int exponent = int((x >> 23) & 0xff) - 127 + 15;
    std::uint32_t mantissa = x & 0x7fffffu;
    if (exponent <= 0)
        return std::uint16_t(sign); // flush tiny values: none in this data
    if (exponent >= 31)
        return std::uint16_t(sign | 0x7bff);
    std::uint32_t h = sign | (std::uint32_t(exponent) << 10) | (mantissa >> 13);
    const std::uint32_t rest = mantissa & 0x1fffu;
    if (rest > 0x1000u || (rest == 0x1000u && (h & 1u)))
        ++h;
    return std::uint16_t(h);
}

hid_t halfType()
{
    const hid_t t = H5Tcopy(H5T_IEEE_F32LE);
    H5Tset_fields(t, 15, 10, 5, 0, 10);
    H5Tset_size(t, 2);
    H5Tset_precision(t, 16);
    H5Tset_ebias(t, 15);
    return t;
}

void integerAttribute(hid_t object, const char *name, long long value)
{
    const hid_t space = H5Screate(H5S_SCALAR);
    const hid_t a = H5Acreate2(object, name, H5T_STD_I64LE, space, H5P_DEFAULT, H5P_DEFAULT);
    check(a >= 0 && H5Awrite(a, H5T_NATIVE_LLONG, &value) >= 0, "attribute");
    H5Aclose(a);
    H5Sclose(space);
}

void stringAttribute(hid_t object, const char *name, const std::string &value)
{
    const hid_t type = H5Tcopy(H5T_C_S1);
    H5Tset_size(type, value.size());
    const hid_t space = H5Screate(H5S_SCALAR);
    const hid_t a = H5Acreate2(object, name, type, space, H5P_DEFAULT, H5P_DEFAULT);
    check(a >= 0 && H5Awrite(a, type, value.data()) >= 0, "attribute");
    H5Aclose(a);
    H5Sclose(space);
    H5Tclose(type);
}

// Router-like logits: a per-layer preference for some experts plus unit noise.
void writeDump(const std::string &path, std::uint64_t logitsSeed)
{
    std::printf("writing %s ...\n", path.c_str());
    std::fflush(stdout);
    const auto start = std::chrono::steady_clock::now();
    const hid_t file = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    check(file >= 0, "H5Fcreate");
    stringAttribute(file, "format", "moe-routing");
    integerAttribute(file, "format_version", 1);
    integerAttribute(file, "num_experts", kExperts);
    integerAttribute(file, "top_k", kTopK);
    stringAttribute(file, "model", "benchmark (OLMoE-like: 64 experts, top-8)");

    std::uint64_t state = 0x9e3779b97f4a7c15ull;
    auto next = [&] { // xorshift64*
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        return state * 0x2545f4914f6cdd1dull;
    };
    std::vector<float> normals(1 << 16);
    for (std::size_t i = 0; i < normals.size(); i += 2) { // Box-Muller
        const double u1 = (double(next() >> 11) + 1.0) / 9007199254740993.0, u2 = double(next() >> 11) / 9007199254740992.0;
        const double r = std::sqrt(-2.0 * std::log(u1));
        normals[i] = float(r * std::cos(2 * M_PI * u2));
        normals[i + 1] = float(r * std::sin(2 * M_PI * u2));
    }

    const hid_t tokens = H5Gcreate2(file, "tokens", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    std::vector<std::int32_t> ids(kTokens);
    for (auto &id : ids)
        id = std::int32_t(next() % 50000);
    const hsize_t tokenDims[1] = {hsize_t(kTokens)};
    hid_t space = H5Screate_simple(1, tokenDims, nullptr);
    hid_t ds = H5Dcreate2(tokens, "ids", H5T_STD_I32LE, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    check(ds >= 0 && H5Dwrite(ds, H5T_NATIVE_INT32, H5S_ALL, H5S_ALL, H5P_DEFAULT, ids.data()) >= 0, "token ids");
    H5Dclose(ds);
    H5Sclose(space);
    H5Gclose(tokens);

    // Another checkpoint of the same tokens: the same ids, other logits.
    state ^= logitsSeed * 0xbf58476d1ce4e5b9ull;
    if (logitsSeed)
        integerAttribute(file, "checkpoint_step", static_cast<long long>(logitsSeed));
    const hid_t layers = H5Gcreate2(file, "layers", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    const hid_t half = halfType();
    const hsize_t dims[2] = {hsize_t(kTokens), hsize_t(kExperts)};
    const hsize_t chunkRows = 65536;
    std::vector<std::uint16_t> rows(chunkRows * kExperts);
    for (int l = 0; l < kLayers; ++l) {
        char name[8];
        std::snprintf(name, sizeof name, "%02d", l);
        const hid_t g = H5Gcreate2(layers, name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        integerAttribute(g, "index", l);
        float preference[kExperts];
        for (float &p : preference)
            p = 1.5f * normals[next() & 0xffff];
        space = H5Screate_simple(2, dims, nullptr);
        ds = H5Dcreate2(g, "logits", half, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT); // contiguous
        check(ds >= 0, "H5Dcreate2 logits");
        for (hsize_t begin = 0; begin < hsize_t(kTokens); begin += chunkRows) {
            const hsize_t n = std::min<hsize_t>(chunkRows, hsize_t(kTokens) - begin);
            for (hsize_t i = 0; i < n * kExperts; ++i)
                rows[i] = toHalf(preference[i % kExperts] + normals[next() & 0xffff]);
            const hsize_t offset[2] = {begin, 0}, count[2] = {n, hsize_t(kExperts)};
            const hid_t fileSpace = H5Dget_space(ds);
            H5Sselect_hyperslab(fileSpace, H5S_SELECT_SET, offset, nullptr, count, nullptr);
            const hid_t memSpace = H5Screate_simple(2, count, nullptr);
            check(H5Dwrite(ds, half, memSpace, fileSpace, H5P_DEFAULT, rows.data()) >= 0, "H5Dwrite logits");
            H5Sclose(memSpace);
            H5Sclose(fileSpace);
        }
        H5Dclose(ds);
        H5Sclose(space);
        H5Gclose(g);
    }
    H5Tclose(half);
    H5Gclose(layers);
    H5Fclose(file);
    std::printf("written in %.1f s\n", seconds(start));
}


// Runs argv with stdout into a file; wall time and the child's peak resident memory.
ChildRun runChild(const std::vector<std::string> &argv, const std::string &outPath, const std::string &errPath)
{
    std::vector<char *> args;
    for (const auto &a : argv)
        args.push_back(const_cast<char *>(a.c_str()));
    args.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, outPath.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (!errPath.empty())
        posix_spawn_file_actions_addopen(&actions, 2, errPath.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ChildRun r;
    const auto start = std::chrono::steady_clock::now();
    pid_t pid;
    if (posix_spawn(&pid, args[0], &actions, nullptr, args.data(), environ) != 0) {
        std::fprintf(stderr, "bench: cannot start %s\n", args[0]);
        return r;
    }
    int status = 0;
    rusage usage{};
    wait4(pid, &status, 0, &usage);
    r.seconds = seconds(start);
    r.peakKiB = usage.ru_maxrss;
    r.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    posix_spawn_file_actions_destroy(&actions);
    std::ifstream in(outPath);
    std::stringstream text;
    text << in.rdbuf();
    r.out = text.str();
    return r;
}

} // namespace moescope::bench
