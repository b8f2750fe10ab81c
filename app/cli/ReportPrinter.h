#pragma once
// How a DumpReport is printed by `stats` and `route`: the JSON of cli.md, or a table.
#include "analysis/DumpReport.h"

#include <string>

namespace moescope::cli {

std::string reportJson(const DumpReport &report);
std::string reportText(const DumpReport &report);

} // namespace moescope::cli
