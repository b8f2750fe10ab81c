#pragma once
// The command line of one headless command: positional words and --options (--name
// VALUE or --name=VALUE; a few have a one-letter form, -o VALUE), checked against what
// the command accepts. Anything wrong throws ArgumentError (exit 2).
#include <map>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

namespace moescope::cli {

struct ArgumentError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

class Arguments {
public:
    // flags: options without a value (--json); options: options taking one value;
    // shortNames: one-letter forms of options ({"o", "output"}: -o OUT is --output OUT).
    Arguments(const std::vector<std::string> &words, const std::set<std::string> &flags,
              const std::set<std::string> &options, const std::map<std::string, std::string> &shortNames = {});

    const std::vector<std::string> &positional() const { return m_positional; }
    std::string file() const; // the one FILE argument
    bool flag(const std::string &name) const { return m_flags.count(name) != 0; }
    std::optional<std::string> option(const std::string &name) const;
    std::optional<double> number(const std::string &name) const;
    std::optional<long long> integer(const std::string &name) const;
    // One of `choices`, or the fallback when absent.
    std::string choice(const std::string &name, const std::vector<std::string> &choices,
                       const std::string &fallback) const;

private:
    std::vector<std::string> m_positional;
    std::set<std::string> m_flags;
    std::map<std::string, std::string> m_options;
};

} // namespace moescope::cli
