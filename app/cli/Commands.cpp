#include "cli/Commands.h"

#include "cli/Arguments.h"
#include "io/DumpError.h"

#include <algorithm>
#include <iostream>

namespace moescope::cli {

namespace {
const std::vector<std::string> kCommands = {"info", "stats", "route", "profile", "export", "placement", "watch", "compare", "import"};
} // namespace

bool isHeadlessCommand(const std::string &name)
{
    return std::find(kCommands.begin(), kCommands.end(), name) != kCommands.end();
}

std::string commandList()
{
    std::string list;
    for (const std::string &command : kCommands)
        list += (list.empty() ? "" : ", ") + command;
    return list;
}

int runHeadlessCommand(const std::string &name, const Words &words)
{
    try {
        if (name == "info")
            return infoCommand(words);
        if (name == "stats")
            return statsCommand(words);
        if (name == "route")
            return routeCommand(words);
        if (name == "profile")
            return profileCommand(words);
        if (name == "export")
            return exportCommand(words);
        if (name == "placement")
            return placementCommand(words);
        if (name == "watch")
            return watchCommand(words);
        if (name == "compare")
            return compareCommand(words);
        if (name == "import")
            return importCommand(words);
        std::cerr << "moescope: unknown command '" << name << "'\n";
        return 2;
    } catch (const ArgumentError &e) {
        std::cerr << "moescope " << name << ": " << e.what() << "\n(see moescope --help)\n";
        return 2;
    } catch (const DumpError &e) {
        std::cerr << "moescope " << name << ": " << e.what() << "\n";
        return 1;
    } catch (const std::exception &e) {
        std::cerr << "moescope " << name << ": " << e.what() << "\n";
        return 1;
    }
}

} // namespace moescope::cli
