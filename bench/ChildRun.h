#pragma once
// Runs a program as a child, as a user would, and measures it from outside.
#include <string>
#include <vector>

namespace bench {

struct ChildRun {
    double seconds = 0;
    long peakKiB = 0; // the child's peak resident memory (getrusage)
    int status = -1;  // exit status; -1 when it did not exit normally
    std::string out;  // what it wrote to stdout
};

// Runs argv (argv[0] a path) with stdout into `outPath`, stderr into `errPath` when
// given; wall time and peak memory come from wait4.
ChildRun runChild(const std::vector<std::string> &argv, const std::string &outPath, const std::string &errPath = {});

double secondsSince(double startSeconds);
double now();

} // namespace bench
