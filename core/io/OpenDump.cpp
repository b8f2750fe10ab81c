#include "io/OpenDump.h"

#include "io/DumpPreflight.h"

namespace moescope {

std::shared_ptr<const RoutingDump> openDump(const std::string &path, const Progress &progress)
{
    // The look in a separate process costs a few milliseconds; opening here is the
    // rest (the schema check reads every layer's attributes and dataset headers).
    io::preflightDump(path, progress.part(0.0, 0.5));
    progress.checkCancelled();
    auto dump = std::make_shared<const RoutingDump>(path);
    progress.report(1.0);
    return dump;
}

} // namespace moescope
