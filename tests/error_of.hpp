#pragma once
// The text of the exception an action throws, for tests that check error lines.
#include <exception>
#include <functional>
#include <string>

namespace mpilake::test_support {

// Runs `action` and returns its error text ("(no error)" when none).
inline std::string error_of(const std::function<void()>& action) {
  try {
    action();
  } catch (const std::exception& error) {
    return error.what();
  }
  return "(no error)";
}

}  // namespace mpilake::test_support
