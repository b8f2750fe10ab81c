#pragma once
// A run log: the /training series a training job writes while it runs (dump-format.md,
// "Written while training runs"). RunLogReader opens one read-only, in HDF5's SWMR
// mode when the writer used it, and follows it: refresh() picks up new steps, reopens
// a file that was not written in SWMR mode when it changed, and a file replaced by a
// new run of the same name. Only the first n records are trusted, n being the length
// of `step` (the writer extends every other dataset before it). Everything is read by
// hyperslab, a range of steps at a time: a long run is never held whole in memory.
#include "io/FileImage.h"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace moescope {

struct RunLogInfo {
    std::string file;
    std::size_t numLayers = 0, numExperts = 0;
    int topK = 0;
    double capacityFactor = 1.25;         // the root attribute, else routing.md's default
    std::string model;
    std::vector<std::string> layerNames;  // L names ("00", "01", ... when not recorded)
    bool hasCounts = false, hasLbLoss = false, hasZLoss = false, hasMaxVio = false,
         hasDroppedFraction = false, hasExpertBias = false;
    bool swmr = false; // a SWMR writer had it open (else read the ordinary way, reopened on change)
};

// The [N, L] series of a run log.
enum class RunLogSeries { LbLoss, ZLoss, MaxVio, DroppedFraction };

class RunLogReader {
public:
    // What refresh() found.
    enum class Change {
        None,     // nothing new
        Grew,     // new steps (numSteps() is larger)
        Reopened, // the file changed outside SWMR and was read again from the start
        Replaced  // another file now has this name (a new run): read from the start
    };

    // Opens and checks the run log; DumpError naming the file and object otherwise.
    explicit RunLogReader(std::string path);
    // A run log held in memory (FileImage.h; the bytes are copied): read once, refresh()
    // finds nothing new. `name` stands for it in messages and must not name a file.
    RunLogReader(std::string name, FileImage image);
    ~RunLogReader();
    RunLogReader(const RunLogReader &) = delete;
    RunLogReader &operator=(const RunLogReader &) = delete;

    const RunLogInfo &info() const;
    std::size_t numSteps() const; // complete steps as of the last open or refresh()
    Change refresh();

    // True while a writer has the file open for writing (the superblock's flags say
    // so; they stay set after a writer was killed). False once it closed the file.
    bool writerOpen() const;

    // Records [begin, begin + count) of the complete ones; out-of-range is a DumpError.
    std::vector<std::int64_t> steps(std::size_t begin, std::size_t count) const;
    // tokens_per_expert: [count * L * E], step-major.
    std::vector<std::int64_t> counts(std::size_t begin, std::size_t count) const;
    // tokens_per_expert of one layer: [count * E].
    std::vector<std::int64_t> layerCounts(std::size_t layer, std::size_t begin, std::size_t count) const;
    // An [N, L] series: [count * L]; NaN throughout when the run log lacks it.
    std::vector<double> series(RunLogSeries which, std::size_t begin, std::size_t count) const;

private:
    struct Impl;
    std::unique_ptr<Impl> d;
};

// Whether the HDF5 superblock at the start of `path` says a writer has it open for
// writing (false for a file closed cleanly, or one with an older superblock).
bool hdf5FileOpenForWriting(const std::string &path);

} // namespace moescope
