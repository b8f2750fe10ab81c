#pragma once
// Whether calling `f` throws an exception of type E (Qt 6.4's macro for this trips
// over namespaced exception types).
namespace moescope::test {

template <typename E, typename F>
bool throws(F &&f)
{
    try {
        f();
    } catch (const E &) {
        return true;
    }
    return false;
}

} // namespace moescope::test
