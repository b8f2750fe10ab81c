// The run-log target: open, then every series of the first and last few records.
#include "FuzzEntries.h"

#include "io/DumpError.h"
#include "io/RunLog.h"

#include <algorithm>

namespace moescope::fuzz {

int runLogImage(const std::uint8_t *data, std::size_t size)
{
    try {
        RunLogReader log(kImageName, FileImage{data, size});
        log.refresh();
        log.writerOpen();
        const RunLogInfo &info = log.info();
        const std::size_t n = log.numSteps(), count = std::min<std::size_t>(n, 8);
        for (const std::size_t begin : {std::size_t(0), n - count}) {
            log.steps(begin, count);
            if (info.hasCounts) {
                log.counts(begin, count);
                for (std::size_t l = 0; l < info.numLayers; ++l)
                    log.layerCounts(l, begin, count);
            }
            for (const RunLogSeries s :
                 {RunLogSeries::LbLoss, RunLogSeries::ZLoss, RunLogSeries::MaxVio, RunLogSeries::DroppedFraction})
                log.series(s, begin, count);
        }
    } catch (const DumpError &e) {
        refused(e);
    }
    return 0;
}

} // namespace moescope::fuzz
