#pragma once
// The API and dashboard as a pure function: a request (method, target, authorization) and one
// snapshot give a response. No sockets here, so routing, parsing and the privacy rule are tested
// directly (tests/serve/); server.hpp puts it behind HTTP.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "mpilake/serve/snapshot.hpp"

namespace mpilake::serve {

struct Request {
  std::string method;         // "GET", ...
  std::string target;         // the raw request target: path and query, still percent-encoded
  std::string authorization;  // the Authorization header ("" when absent)
  std::size_t header_bytes = 0;
  bool has_body = false;
};

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
};

// The limits it enforces itself (HTTP's own are in server.hpp).
inline constexpr std::size_t kMaxTargetBytes = 4096;
inline constexpr std::size_t kMaxHeaderBytes = 16 * 1024;
inline constexpr std::int64_t kMaxPageSize = 1000;
inline constexpr std::int64_t kDefaultPageSize = 100;

// The static files: the dashboard's (embedded at build time), Chart.js and the OpenAPI document.
struct Assets {
  std::map<std::string, std::pair<std::string, std::string>> by_path;  // path -> (content type, bytes)
};
// The embedded files plus Chart.js read from `chart_js` (throws std::runtime_error when unreadable).
Assets load_assets(const std::string& chart_js);

// {"error": {"code": C, "type": T}, "message": M} with status C.
Response error_response(int status, std::string_view message);
std::string_view error_type(int status);

class Api {
 public:
  // `token`: the bearer token that unlocks personal fields; none: personal fields are never served.
  Api(std::optional<std::string> token, Assets assets);

  // `snapshot` may be null (nothing loaded yet): API paths then answer 503.
  Response handle(const Request& request, const Snapshot* snapshot) const;

  // Constant-time check of an Authorization header against the token.
  bool authorized(std::string_view authorization) const;

 private:
  Response respond(const Request& request, const Snapshot* snapshot) const;

  std::optional<std::string> token_;
  Assets assets_;
};

// Constant-time equality (time depends only on the lengths).
bool constant_time_equal(std::string_view a, std::string_view b);

}  // namespace mpilake::serve
