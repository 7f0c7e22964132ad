#pragma once
// Strict parsing of a request target: percent-decoding that refuses bad escapes, NUL and control
// bytes, dot segments; query parameters without duplicates; ids, dates and page bounds.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mpilake::serve {

// A request the API refuses with 400: `what` is the one-line reason.
struct BadRequest {
  std::string what;
};

struct Target {
  std::vector<std::string> segments;          // the decoded path split at '/' ("/" -> none)
  std::map<std::string, std::string> params;  // decoded query parameters
};

// Decodes %XX escapes (and '+' as space when `plus_is_space`); nullopt on a bad escape, or when the
// result holds a NUL or another control byte.
std::optional<std::string> percent_decode(std::string_view text, bool plus_is_space);

// Splits and decodes "/a/b?x=1&y=2". Throws BadRequest for a target that is not an absolute path, a
// bad escape or byte, a "." or ".." segment, an empty segment, a parameter twice, or a fragment.
Target parse_target(std::string_view target);

// A positive decimal id of at most 18 digits (so it fits int64), else BadRequest naming `what`.
std::int64_t parse_id(std::string_view text, std::string_view what);
// A page bound: an integer in [0, max], else BadRequest.
std::int64_t parse_bounded(std::string_view text, std::string_view what, std::int64_t max);

}  // namespace mpilake::serve
