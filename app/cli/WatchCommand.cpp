// `moescope watch RUN.h5`: follows a run log as a training job writes it, a line (or a
// JSON object) per new step, and stops with exit 3 at the collapse alert of
// analyses.md, 0 at --until-step or when the writer closed the file, 1 on a file it
// refuses or when --timeout passes without a new step.
#include "analysis/CollapseAlert.h"
#include "cli/Arguments.h"
#include "cli/Commands.h"
#include "cli/JsonWriter.h"
#include "io/DumpError.h"
#include "io/DumpPreflight.h"
#include "io/RunLog.h"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <memory>
#include <optional>
#include <thread>

namespace moescope::cli {

namespace {

using Clock = std::chrono::steady_clock;

double secondsSince(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

void sleepSeconds(double s) { std::this_thread::sleep_for(std::chrono::duration<double>(s)); }

std::string fixed(double v)
{
    char text[32];
    std::snprintf(text, sizeof text, "%.2f", v);
    return std::isfinite(v) ? text : "-";
}

struct WatchOptions {
    double interval = 1.0;
    int window = 3;
    std::optional<long long> untilStep;
    std::optional<double> timeout;
    bool json = false;
};

// Opens the run log, waiting for it to appear (a training job creates it once it has
// started) and, for a few seconds, for a writer that is still setting it up.
std::unique_ptr<RunLogReader> openWhenReady(const std::string &file, const WatchOptions &o)
{
    const Clock::time_point start = Clock::now();
    bool told = false;
    while (!std::filesystem::exists(file)) {
        if (o.timeout && secondsSince(start) > *o.timeout)
            throw DumpError(file, "", "no run log appeared within " + fixed(*o.timeout) + " s");
        if (!told)
            std::cerr << "moescope watch: waiting for " << file << " to appear\n";
        told = true;
        sleepSeconds(o.interval);
    }
    const Clock::time_point found = Clock::now();
    for (;;) {
        try {
            // The first open goes through the helper process, as a dump's does: a file
            // damaged so that HDF5 itself crashes is reported, not met here.
            io::preflightRunLog(file);
            return std::make_unique<RunLogReader>(file);
        } catch (const DumpError &) {
            if (secondsSince(found) > std::min(5.0, o.timeout.value_or(5.0)))
                throw;
        }
        sleepSeconds(std::min(o.interval, 0.5));
    }
}

class Follower {
public:
    Follower(RunLogReader &reader, const WatchOptions &o) : m_reader(reader), m_o(o) { restart(); }

    void restart()
    {
        const RunLogInfo &info = m_reader.info();
        if (!info.hasCounts && !info.hasMaxVio)
            throw DumpError(info.file, "/training", "holds neither tokens_per_expert nor max_vio; nothing to watch");
        m_watch = std::make_unique<CollapseWatch>(info.numLayers, info.numExperts, m_o.window, info.capacityFactor);
        m_done = 0;
    }

    // Prints the steps not yet printed; returns an exit code when watching must end.
    std::optional<int> printNewSteps()
    {
        const RunLogInfo &info = m_reader.info();
        const std::size_t n = m_reader.numSteps();
        const std::size_t perBlock = std::max<std::size_t>(1, (std::size_t(4) << 20) / (info.numLayers * info.numExperts));
        while (m_done < n) {
            const std::size_t count = std::min(perBlock, n - m_done);
            const auto steps = m_reader.steps(m_done, count);
            std::vector<std::int64_t> counts;
            std::vector<double> maxVio;
            if (info.hasCounts)
                counts = m_reader.counts(m_done, count);
            else
                maxVio = m_reader.series(RunLogSeries::MaxVio, m_done, count);
            for (std::size_t i = 0; i < count; ++i) {
                const std::size_t L = info.numLayers, E = info.numExperts;
                const StepSummary s = m_watch->add(steps[i], counts.empty() ? nullptr : counts.data() + i * L * E,
                                                   maxVio.empty() ? nullptr : maxVio.data() + i * L);
                printStep(s);
                if (const auto &alert = m_watch->alert()) {
                    printAlert(*alert);
                    return 3;
                }
                if (m_o.untilStep && steps[i] >= *m_o.untilStep) {
                    std::cerr << "moescope watch: reached step " << steps[i] << "\n";
                    return 0;
                }
            }
            m_done += count;
        }
        return std::nullopt;
    }

    std::int64_t lastStep() const { return m_done ? m_reader.steps(m_done - 1, 1)[0] : 0; }

private:
    void printStep(const StepSummary &s)
    {
        const std::string &layer = m_reader.info().layerNames[s.worstLayer];
        if (m_o.json) {
            JsonWriter w;
            w.beginObject();
            w.key("step").value(s.step);
            w.key("worst_layer").value(layer);
            w.key("cv").value(s.worst.cv);
            w.key("max_vio").value(s.worst.maxVio);
            w.key("hot").value(s.worst.hot);
            w.key("cold").value(s.worst.cold);
            w.endObject();
            std::cout << w.text() << std::endl;
            return;
        }
        std::printf("step %-8lld worst %-6s cv %-6s max_vio %-6s hot %d  cold %d%s\n", static_cast<long long>(s.step),
                    layer.c_str(), fixed(s.worst.cv).c_str(), fixed(s.worst.maxVio).c_str(), s.worst.hot,
                    s.worst.cold, s.worst.collapsing() ? "  collapsing" : "");
        std::fflush(stdout);
    }

    void printAlert(const CollapseAlert &a)
    {
        const std::string &layer = m_reader.info().layerNames[a.layer];
        if (m_o.json) {
            JsonWriter w;
            w.beginObject().key("alert").beginObject();
            w.key("layer").value(layer);
            w.key("since_step").value(a.sinceStep);
            w.key("condition").value(a.condition);
            w.endObject().endObject();
            std::cout << w.text() << std::endl;
            return;
        }
        const std::string why = a.condition == "cold" ? "cold: at least a tenth of its experts get under 0.1x their share"
                                                      : "max_vio: one expert holds over three times its share";
        std::printf("ALERT layer %s collapsing since step %lld, %d logged steps in a row (%s)\n", layer.c_str(),
                    static_cast<long long>(a.sinceStep), m_o.window, why.c_str());
        std::fflush(stdout);
    }

    RunLogReader &m_reader;
    const WatchOptions &m_o;
    std::unique_ptr<CollapseWatch> m_watch;
    std::size_t m_done = 0;
};

} // namespace

int watchCommand(const Words &words)
{
    const Arguments args(words, {"json"}, {"interval", "window", "until-step", "timeout"});
    const std::string file = args.file();
    WatchOptions o;
    o.json = args.flag("json");
    o.interval = args.number("interval").value_or(1.0);
    if (!(o.interval > 0) || o.interval > 3600)
        throw ArgumentError("--interval must be a number of seconds above 0 (and at most 3600)");
    const long long window = args.integer("window").value_or(3);
    if (window < 1 || window > 1000000)
        throw ArgumentError("--window must be a number of logged steps, 1 or more");
    o.window = int(window);
    o.untilStep = args.integer("until-step");
    o.timeout = args.number("timeout");
    if (o.timeout && !(*o.timeout > 0))
        throw ArgumentError("--timeout must be a number of seconds above 0");

    const auto reader = openWhenReady(file, o);
    const RunLogInfo &info = reader->info();
    std::cerr << "moescope watch: following " << file << " (" << info.numLayers << " layers, " << info.numExperts
              << " experts, " << reader->numSteps() << " steps so far; alert after " << o.window
              << " collapsing steps in a row)\n";
    Follower follower(*reader, o);
    Clock::time_point lastNews = Clock::now();
    bool troubleTold = false;
    for (;;) {
        if (const auto code = follower.printNewSteps())
            return *code;
        if (o.timeout && secondsSince(lastNews) > *o.timeout) {
            std::cerr << "moescope watch: " << file << ": no new step in " << fixed(*o.timeout)
                      << " s (writer stopped?); last step " << follower.lastStep() << "\n";
            return 1;
        }
        // Whether the writer had closed the file is asked before looking for new
        // steps, so that a close seen here means nothing more can come after them.
        const bool closed = !reader->writerOpen();
        const std::size_t before = reader->numSteps();
        try {
            const RunLogReader::Change change = reader->refresh();
            troubleTold = false;
            if (change == RunLogReader::Change::Replaced || change == RunLogReader::Change::Reopened) {
                std::cerr << "moescope watch: " << file << " now holds a new run; following it from its first step\n";
                follower.restart();
                lastNews = Clock::now();
                continue;
            }
        } catch (const DumpError &e) {
            // A writer replacing the file may leave it unreadable for a moment.
            if (!troubleTold)
                std::cerr << "moescope watch: cannot read it right now (" << e.what() << "); trying again\n";
            troubleTold = true;
            sleepSeconds(o.interval);
            continue;
        }
        if (reader->numSteps() > before) {
            lastNews = Clock::now();
            continue;
        }
        if (closed) {
            std::cerr << "moescope watch: the writer closed " << file << " at step " << follower.lastStep() << "\n";
            return 0;
        }
        sleepSeconds(o.interval);
    }
}

} // namespace moescope::cli
