#pragma once
// What the window knows of a run log it follows, kept up to date by poll() on a
// worker thread (one poll at a time). Each poll reads only the steps that arrived
// since the last one, by hyperslab, and folds them into at most maxBins bins of
// consecutive steps (neighbouring bins merge in pairs when there would be more), so
// a run of 20,000 steps x 58 layers x 256 experts is never held whole: the training
// chart draws the bins (loss curves averaged per bin, load per bin), one per few
// screen pixels at most (fewer for very wide models: about 64 MB of counts at most).
#include "DumpSnapshot.h"
#include "analysis/CollapseAlert.h"

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace moescope {
class RunLogReader;
}

namespace moescope::ui {

// One poll's news, handed to the GUI thread.
struct LivePoll {
    DumpSnapshotPtr snapshot;          // the binned series, when it changed (else null)
    std::size_t steps = 0;             // complete steps in the file
    std::int64_t lastStep = 0;         // the newest step's number
    bool grew = false;                 // new steps since the last poll
    bool writerOpen = true;            // a writer still has the file open
    bool replaced = false;             // a new run replaced the file (read from its start)
    std::optional<CollapseAlert> alert;  // raised at some step (stays raised)
    std::vector<std::string> layerNames;
    std::vector<LayerStepHealth> latest; // each layer at the newest step
};

class LiveRunState {
public:
    explicit LiveRunState(std::string path, std::size_t maxBins = 1024, int alertWindow = 3);
    ~LiveRunState();

    // Opens the file on the first call, then looks for new steps. Throws DumpError.
    LivePoll poll();

    // How many records one bin holds now (1 until the run outgrows maxBins).
    std::size_t recordsPerBin() const { return m_perBin; }
    std::size_t bins() const { return m_bins.size(); }

private:
    struct Bin {
        std::int64_t lastStep = 0;
        std::size_t records = 0;
        std::vector<std::int64_t> counts; // [L * E] summed
        std::vector<double> lbSum, zSum;  // [L]
        std::vector<int> lbN, zN;         // records with a finite value, per layer
    };
    void restart();
    void add(std::int64_t step, const std::int64_t *counts, const double *lb, const double *z, const double *maxVio);
    void mergePairs();
    DumpSnapshotPtr snapshot() const;

    std::string m_path;
    std::size_t m_maxBins, m_binLimit = 2;
    int m_alertWindow;
    std::unique_ptr<RunLogReader> m_reader;
    std::size_t m_done = 0, m_perBin = 1;
    std::vector<Bin> m_bins;
    std::unique_ptr<CollapseWatch> m_watch;
    std::vector<LayerStepHealth> m_latest;
    std::int64_t m_lastStep = 0;
};

} // namespace moescope::ui
