#include "analysis/SummaryCache.h"

#include "analysis/SummaryEntry.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <system_error>

namespace moescope {

namespace fs = std::filesystem;

namespace {

// Bump whenever DumpReport or its parts change: older entries then simply miss.
constexpr const char *kFormat = "moescope-summary 4";

std::uint64_t fnv1a(const void *data, std::size_t n, std::uint64_t h = 1469598103934665603ull)
{
    const auto *p = static_cast<const unsigned char *>(data);
    for (std::size_t i = 0; i < n; ++i)
        h = (h ^ p[i]) * 1099511628211ull;
    return h;
}

// size, mtime and a hash of the header and of 16 samples; empty when unreadable.
std::string contentKey(const std::string &path)
{
    struct stat s;
    if (::stat(path.c_str(), &s) != 0 || !S_ISREG(s.st_mode))
        return {};
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return {};
    const auto size = std::uint64_t(s.st_size);
    std::uint64_t h = fnv1a(nullptr, 0);
    std::string buffer(std::size_t(64) << 10, '\0');
    auto mix = [&](std::uint64_t offset, std::size_t length) {
        const ssize_t got = ::pread(fd, buffer.data(), std::min(length, buffer.size()), off_t(offset));
        if (got > 0)
            h = fnv1a(buffer.data(), std::size_t(got), h);
    };
    mix(0, buffer.size());
    for (int i = 1; i <= 16; ++i)
        mix(size / 17 * std::uint64_t(i), 4096);
    ::close(fd);
    char key[160];
    std::snprintf(key, sizeof key, "size %llu mtime %lld.%09ld content %016llx",
                  static_cast<unsigned long long>(size), static_cast<long long>(s.st_mtim.tv_sec),
                  static_cast<long>(s.st_mtim.tv_nsec), static_cast<unsigned long long>(h));
    return key;
}

std::string requestKey(const AnalysisRequest &r)
{
    std::ostringstream out;
    out.precision(17);
    out << "cf ";
    if (r.capacityFactor)
        out << *r.capacityFactor;
    else
        out << "dump";
    out << " drops " << dropPolicyName(r.drops.policy) << " group " << int(r.drops.group);
    out << " vocabulary " << (r.vocabulary ? r.vocabularyMinCount : -1);
    return out.str();
}

std::string fileNameOf(const std::string &key)
{
    char name[40];
    std::snprintf(name, sizeof name, "%016llx.summary",
                  static_cast<unsigned long long>(fnv1a(key.data(), key.size())));
    return name;
}

// Removes the oldest entries until the directory holds at most maxBytes.
void trim(const fs::path &dir, std::uint64_t maxBytes)
{
    std::error_code ec;
    std::vector<std::pair<fs::file_time_type, fs::path>> entries;
    std::uint64_t total = 0;
    for (const auto &entry : fs::directory_iterator(dir, ec)) {
        if (entry.path().extension() != ".summary")
            continue;
        total += entry.file_size(ec);
        entries.emplace_back(entry.last_write_time(ec), entry.path());
    }
    std::sort(entries.begin(), entries.end());
    for (const auto &[when, path] : entries) {
        if (total <= maxBytes)
            break;
        const auto bytes = fs::file_size(path, ec);
        if (fs::remove(path, ec))
            total -= std::min<std::uint64_t>(total, bytes);
    }
}

} // namespace

SummaryCache SummaryCache::standard()
{
    SummaryCache cache;
    if (std::getenv("MOESCOPE_NO_CACHE"))
        return cache;
    if (const char *own = std::getenv("MOESCOPE_CACHE_DIR"); own && *own)
        cache.directory = own;
    else if (const char *xdg = std::getenv("XDG_CACHE_HOME"); xdg && *xdg)
        cache.directory = std::string(xdg) + "/moescope/summaries";
    else if (const char *home = std::getenv("HOME"); home && *home)
        cache.directory = std::string(home) + "/.cache/moescope/summaries";
    return cache;
}

bool cacheableRequest(const AnalysisRequest &r)
{
    return !r.reroute && !r.capacitySweep && !r.expertChoice && !r.balance && r.onlyLayers.empty() &&
           !r.logitsLayersOnly && !r.compareWithRecorded && !r.recorded;
}

std::optional<CachedSummary> SummaryCache::load(const std::string &dumpPath,
                                                const AnalysisRequest &request) const
{
    if (!enabled() || !cacheableRequest(request))
        return std::nullopt;
    const std::string content = contentKey(dumpPath);
    if (content.empty())
        return std::nullopt;
    const std::string key = std::string(kFormat) + "\n" + content + "\n" + requestKey(request);
    const fs::path file = fs::path(directory) / fileNameOf(key);
    std::error_code ec;
    const auto bytes = fs::file_size(file, ec);
    if (ec || bytes > maxBytes)
        return std::nullopt;
    std::ifstream in(file, std::ios::binary);
    std::string data(std::size_t(bytes), '\0');
    if (!in.read(data.data(), std::streamsize(bytes)))
        return std::nullopt;
    std::optional<CachedSummary> summary = decodeSummary(data, key);
    if (!summary)
        return std::nullopt;
    fs::last_write_time(file, fs::file_time_type::clock::now(), ec); // recently used: kept longest
    summary->info.path = dumpPath;
    summary->report.file = dumpPath;
    return summary;
}

void SummaryCache::store(const std::string &dumpPath, const AnalysisRequest &request, const DumpInfo &info,
                         const DumpReport &report) const
{
    if (!enabled() || !cacheableRequest(request))
        return;
    const std::string content = contentKey(dumpPath);
    if (content.empty())
        return;
    const std::string key = std::string(kFormat) + "\n" + content + "\n" + requestKey(request);
    const std::string entry = encodeSummary(key, info, report);
    if (entry.size() > maxBytes)
        return;
    std::error_code ec;
    const fs::path dir(directory);
    fs::create_directories(dir, ec);
    const fs::path file = dir / fileNameOf(key);
    // A temporary name of this process and this call alone: two threads storing the
    // same entry must not write into one file. Renamed over the entry only once whole.
    static std::atomic<std::uint64_t> stores{0};
    const fs::path temporary = dir / (file.filename().string() + ".tmp" + std::to_string(::getpid()) + "-" +
                                      std::to_string(stores.fetch_add(1)));
    {
        std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
        if (!out.write(entry.data(), std::streamsize(entry.size())) || !out.flush()) {
            out.close();
            fs::remove(temporary, ec);
            return;
        }
    }
    fs::rename(temporary, file, ec);
    if (ec) {
        fs::remove(temporary, ec);
        return;
    }
    trim(dir, maxBytes);
}

} // namespace moescope
