#include "cli/Arguments.h"

#include <cmath>
#include <cstdlib>

namespace moescope::cli {

Arguments::Arguments(const std::vector<std::string> &words, const std::set<std::string> &flags,
                     const std::set<std::string> &options, const std::map<std::string, std::string> &shortNames)
{
    for (std::size_t i = 0; i < words.size(); ++i) {
        std::string word = words[i];
        if (word.size() == 2 && word[0] == '-' && word[1] != '-') {
            const auto longName = shortNames.find(word.substr(1));
            if (longName == shortNames.end())
                throw ArgumentError("unknown option " + word);
            word = "--" + longName->second;
        }
        if (word.rfind("--", 0) != 0 || word == "--") {
            m_positional.push_back(word);
            continue;
        }
        std::string name = word.substr(2), value;
        bool inlineValue = false;
        if (const auto eq = name.find('='); eq != std::string::npos) {
            value = name.substr(eq + 1);
            name = name.substr(0, eq);
            inlineValue = true;
        }
        if (flags.count(name)) {
            if (inlineValue)
                throw ArgumentError("option --" + name + " takes no value");
            m_flags.insert(name);
        } else if (options.count(name)) {
            if (!inlineValue) {
                if (i + 1 >= words.size())
                    throw ArgumentError("option --" + name + " needs a value");
                value = words[++i];
            }
            m_options[name] = value;
        } else {
            throw ArgumentError("unknown option --" + name);
        }
    }
}

std::string Arguments::file() const
{
    if (m_positional.empty())
        throw ArgumentError("missing FILE argument");
    if (m_positional.size() > 1)
        throw ArgumentError("unexpected argument '" + m_positional[1] + "'");
    return m_positional.front();
}

std::optional<std::string> Arguments::option(const std::string &name) const
{
    const auto it = m_options.find(name);
    if (it == m_options.end())
        return std::nullopt;
    return it->second;
}

std::optional<double> Arguments::number(const std::string &name) const
{
    const auto text = option(name);
    if (!text)
        return std::nullopt;
    char *end = nullptr;
    const double value = std::strtod(text->c_str(), &end);
    if (text->empty() || *end != '\0' || !std::isfinite(value))
        throw ArgumentError("--" + name + " needs a number, got '" + *text + "'");
    return value;
}

std::optional<long long> Arguments::integer(const std::string &name) const
{
    const auto text = option(name);
    if (!text)
        return std::nullopt;
    char *end = nullptr;
    const long long value = std::strtoll(text->c_str(), &end, 10);
    if (text->empty() || *end != '\0')
        throw ArgumentError("--" + name + " needs an integer, got '" + *text + "'");
    return value;
}

std::string Arguments::choice(const std::string &name, const std::vector<std::string> &choices,
                              const std::string &fallback) const
{
    const auto text = option(name);
    if (!text)
        return fallback;
    for (const auto &c : choices)
        if (c == *text)
            return c;
    std::string list;
    for (const auto &c : choices)
        list += (list.empty() ? "" : ", ") + c;
    throw ArgumentError("--" + name + " must be one of " + list + ", got '" + *text + "'");
}

} // namespace moescope::cli
