#pragma once
// The one exception type for a dump we refuse: it always names the file, the object
// inside it (an HDF5 path such as "/layers/03/logits", or "" for the file itself) and
// the problem, so every caller can print a message a user can act on.
#include <stdexcept>
#include <string>

namespace moescope {

class DumpError : public std::runtime_error {
public:
    DumpError(std::string file, std::string object, std::string problem)
        : std::runtime_error(compose(file, object, problem)),
          m_file(std::move(file)), m_object(std::move(object)), m_problem(std::move(problem)) {}

    const std::string &file() const { return m_file; }
    const std::string &object() const { return m_object; }
    const std::string &problem() const { return m_problem; }

private:
    static std::string compose(const std::string &file, const std::string &object,
                               const std::string &problem)
    {
        return object.empty() ? file + ": " + problem : file + ": " + object + ": " + problem;
    }
    std::string m_file, m_object, m_problem;
};

// Thrown out of long calls when their cancellation token is set.
class Cancelled : public std::runtime_error {
public:
    Cancelled() : std::runtime_error("cancelled") {}
};

} // namespace moescope
