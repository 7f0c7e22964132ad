#include "mpilake/serve/api.hpp"

#include <fstream>
#include <sstream>
#include <stdexcept>

#include "mpilake/deloton/schema.hpp"
#include "mpilake/serve/dates.hpp"
#include "mpilake/serve/target.hpp"
#include "mpilake/serve/views.hpp"

namespace mpilake::serve {

const std::map<std::string, std::string_view>& embedded_assets();  // generated at build time

namespace {

Response json_response(const Json& json) {
  Response response;
  response.body = dump_json(json);
  return response;
}

// What a route answers to; `params` are the query parameters it takes.
enum class Route { asset, health, live, rides, ride, rider, rider_rides, daily, alerts };

struct Match {
  Route route;
  std::vector<std::string> params;
};

std::optional<Match> match(const std::vector<std::string>& s) {
  const std::size_t n = s.size();
  if (n == 0 || (n == 1 && s[0] == "openapi.json") || (n == 2 && s[0] == "static")) return Match{Route::asset, {}};
  if (n == 1 && s[0] == "health") return Match{Route::health, {}};
  if (n == 1 && s[0] == "live") return Match{Route::live, {}};
  if (n == 1 && s[0] == "rides") return Match{Route::rides, {"date", "limit", "offset"}};
  if (n == 2 && s[0] == "rides") return Match{Route::ride, {"readings"}};
  if (n == 2 && s[0] == "riders") return Match{Route::rider, {}};
  if (n == 3 && s[0] == "riders" && s[2] == "rides") return Match{Route::rider_rides, {"limit", "offset"}};
  if (n == 1 && s[0] == "daily") return Match{Route::daily, {"date"}};
  if (n == 1 && s[0] == "alerts") return Match{Route::alerts, {"date", "limit", "offset"}};
  return std::nullopt;
}

std::string path_text(const std::vector<std::string>& segments) {
  std::string out;
  for (const auto& segment : segments) out += "/" + segment;
  return out.empty() ? "/" : out;
}

struct Page {
  std::int64_t limit = kDefaultPageSize, offset = 0;
};

Page page_of(const std::map<std::string, std::string>& params) {
  Page page;
  if (const auto it = params.find("limit"); it != params.end())
    page.limit = parse_bounded(it->second, "limit", kMaxPageSize);
  if (const auto it = params.find("offset"); it != params.end())
    page.offset = parse_bounded(it->second, "offset", 1'000'000'000'000LL);
  return page;
}

std::optional<std::int64_t> date_of(const std::map<std::string, std::string>& params) {
  const auto it = params.find("date");
  if (it == params.end()) return std::nullopt;
  const auto day = parse_date(it->second);
  if (!day) throw BadRequest{"date must be a calendar date YYYY-MM-DD"};
  return day;
}

// The [first, last) rows of a list of `total` that a page shows.
std::pair<std::size_t, std::size_t> window(std::size_t total, const Page& page) {
  const auto first = std::min<std::size_t>(total, static_cast<std::size_t>(page.offset));
  return {first, std::min<std::size_t>(total, first + static_cast<std::size_t>(page.limit))};
}

Json page_header(std::size_t total, const Page& page) {
  return Json{{"total", total}, {"limit", page.limit}, {"offset", page.offset}};
}

struct NotFound {
  std::string what;
};

Response answer(Route route, const std::vector<std::string>& segments, const std::map<std::string, std::string>& params,
                const Snapshot& s, bool personal) {
  switch (route) {
    case Route::health: {
      Json zones = Json::object();
      for (const auto& [zone, info] : s.summary["zones"].items())
        if (info.contains("rows")) zones[zone] = info["rows"];
      return json_response(Json{{"status", "ok"},
                                {"run_id", s.run_id},
                                {"created_utc", s.created_utc},
                                {"loaded_utc", s.loaded_utc},
                                {"latest_time", s.latest_time == kNullInt64 ? Json(nullptr) : Json(s.latest_time)},
                                {"zones", zones},
                                {"memory_bytes", s.memory_bytes}});
    }
    case Route::live: {
      Response response;
      response.body = personal ? s.live_personal : s.live_public;
      return response;
    }
    case Route::ride: {
      const std::int64_t id = parse_id(segments[1], "ride id");
      bool with_readings = false;
      if (const auto it = params.find("readings"); it != params.end()) {
        if (it->second != "0" && it->second != "1") throw BadRequest{"readings must be 0 or 1"};
        with_readings = it->second == "1";
      }
      const std::int64_t row = s.ride_row(id);
      if (row < 0) throw NotFound{"no ride " + std::to_string(id) + " in this run"};
      if (!with_readings) {
        Response response;
        response.body = s.ride_bodies[static_cast<std::size_t>(row)];
        return response;
      }
      Json ride = ride_json(s, static_cast<std::size_t>(row));
      ride["readings"] = readings_json(s, static_cast<std::size_t>(row));
      return json_response(ride);
    }
    case Route::rides: {
      const auto day = date_of(params);
      const Page page = page_of(params);
      const auto [first, last] =
          day ? s.rides_on_day(*day) : std::pair<std::size_t, std::size_t>(0, s.rides.num_rows());
      const auto [from, to] = window(last - first, page);
      Json out = page_header(last - first, page);
      out["date"] = day ? Json(date_text(*day)) : Json(nullptr);
      Json list = Json::array();
      for (std::size_t row = first + from; row < first + to; ++row) list.push_back(ride_json(s, row));
      out["rides"] = std::move(list);
      return json_response(out);
    }
    case Route::rider:
    case Route::rider_rides: {
      const std::int64_t id = parse_id(segments[1], "user id");
      const Page page = page_of(params);
      const auto it = s.rider_row.find(id);
      if (it == s.rider_row.end()) throw NotFound{"no rider " + std::to_string(id) + " in this run"};
      if (route == Route::rider) return json_response(rider_json(s, it->second, personal));
      const auto& rows = s.rides_of_rider.at(id);
      const auto [from, to] = window(rows.size(), page);
      Json out = {{"user_id", id}};
      out.update(page_header(rows.size(), page));
      Json list = Json::array();
      for (std::size_t k = from; k < to; ++k) list.push_back(ride_json(s, rows[k]));
      out["rides"] = std::move(list);
      return json_response(out);
    }
    case Route::daily: {
      const auto day = date_of(params);
      if (day) {
        const std::int64_t row = s.daily_row(date_text(*day));
        if (row < 0) throw NotFound{"no rides on " + date_text(*day) + " in this run"};
        Response response;
        response.body = s.daily_bodies[static_cast<std::size_t>(row)];
        return response;
      }
      Json list = Json::array();
      for (std::size_t row = 0; row < s.daily.num_rows(); ++row) list.push_back(daily_json(s, row));
      return json_response(Json{{"days", std::move(list)}});
    }
    case Route::alerts: {
      const auto day = date_of(params);
      const Page page = page_of(params);
      // An alert belongs to its ride's start date, as the daily zone counts it.
      const auto [ride_first, ride_last] =
          day ? s.rides_on_day(*day) : std::pair<std::size_t, std::size_t>(0, s.rides.num_rows());
      const auto [first, last] = s.alerts_of_rides(ride_first, ride_last);
      const auto [from, to] = window(last - first, page);
      Json out = page_header(last - first, page);
      out["date"] = day ? Json(date_text(*day)) : Json(nullptr);
      Json list = Json::array();
      for (std::size_t row = first + from; row < first + to; ++row) list.push_back(alert_json(s, row, personal));
      out["alerts"] = std::move(list);
      return json_response(out);
    }
    case Route::asset: break;
  }
  throw std::logic_error("unrouted");
}

}  // namespace

std::string_view error_type(int status) {
  switch (status) {
    case 400: return "bad_request";
    case 401: return "unauthorized";
    case 404: return "not_found";
    case 405: return "method_not_allowed";
    case 408: return "request_timeout";
    case 413: return "payload_too_large";
    case 414: return "uri_too_long";
    case 431: return "header_fields_too_large";
    case 503: return "unavailable";
    default: return status >= 500 ? "internal_error" : "bad_request";
  }
}

Response error_response(int status, std::string_view message) {
  Response response;
  response.status = status;
  response.body = dump_json(Json{{"error", {{"code", status}, {"type", error_type(status)}}}, {"message", message}});
  return response;
}

bool constant_time_equal(std::string_view a, std::string_view b) {
  // Every byte of the longer one is looked at whatever the contents; only the lengths show.
  const std::size_t n = std::max(a.size(), b.size());
  unsigned char difference = a.size() == b.size() ? 0 : 1;
  for (std::size_t i = 0; i < n; ++i) {
    const unsigned char x = i < a.size() ? static_cast<unsigned char>(a[i]) : 0;
    const unsigned char y = i < b.size() ? static_cast<unsigned char>(b[i]) : 0;
    difference |= static_cast<unsigned char>(x ^ y);
  }
  return difference == 0;
}

Assets load_assets(const std::string& chart_js) {
  Assets assets;
  const auto& embedded = embedded_assets();
  const auto file = [&](const std::string& name) { return std::string(embedded.at(name)); };
  assets.by_path["/"] = {"text/html; charset=utf-8", file("index.html")};
  assets.by_path["/static/app.js"] = {"text/javascript; charset=utf-8", file("app.js")};
  assets.by_path["/static/style.css"] = {"text/css; charset=utf-8", file("style.css")};
  assets.by_path["/openapi.json"] = {"application/json", file("openapi.json")};
  std::ifstream in(chart_js, std::ios::binary);
  std::ostringstream bytes;
  bytes << in.rdbuf();
  if (!in || bytes.str().empty())
    throw std::runtime_error("cannot read Chart.js at " + chart_js + " (Debian package libjs-chart.js)");
  assets.by_path["/static/chart.min.js"] = {"text/javascript; charset=utf-8", bytes.str()};
  return assets;
}

Api::Api(std::optional<std::string> token, Assets assets) : token_(std::move(token)), assets_(std::move(assets)) {}

bool Api::authorized(std::string_view authorization) const {
  constexpr std::string_view scheme = "bearer ";
  if (!token_ || authorization.size() < scheme.size()) return false;
  for (std::size_t i = 0; i < scheme.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(authorization[i])) != scheme[i]) return false;
  return constant_time_equal(authorization.substr(scheme.size()), *token_);
}

Response Api::handle(const Request& request, const Snapshot* snapshot) const {
  Response response = respond(request, snapshot);
  bool has_cache_control = false;
  for (const auto& header : response.headers) has_cache_control = has_cache_control || header.first == "Cache-Control";
  if (!has_cache_control) response.headers.emplace_back("Cache-Control", "no-store");
  return response;
}

Response Api::respond(const Request& request, const Snapshot* snapshot) const {
  if (request.target.size() > kMaxTargetBytes)
    return error_response(414, "the request target is over " + std::to_string(kMaxTargetBytes) + " bytes");
  if (request.header_bytes > kMaxHeaderBytes)
    return error_response(431, "the request headers are over " + std::to_string(kMaxHeaderBytes) + " bytes");
  Target target;
  try {
    target = parse_target(request.target);
  } catch (const BadRequest& e) {
    return error_response(400, e.what);
  }
  const auto matched = match(target.segments);
  const std::string path = path_text(target.segments);
  if (!matched || (matched->route == Route::asset && !assets_.by_path.contains(path)))
    return error_response(404, "no such path: " + path.substr(0, 100) + " (see /openapi.json)");
  if (request.method != "GET" && request.method != "HEAD") {
    Response response = error_response(
        405, request.method == "DELETE" && matched->route == Route::ride
                 ? "rides cannot be deleted: the zones are the record, and the next run replaces them"
                 : "only GET and HEAD are offered on " + path.substr(0, 100) + " (the API is read-only)");
    response.headers.emplace_back("Allow", "GET, HEAD");
    return response;
  }
  if (request.has_body) return error_response(413, "request bodies are not accepted");
  if (!request.authorization.empty() && !authorized(request.authorization)) {
    Response response = error_response(401, token_ ? "the bearer token is not valid" : "this server has no token set");
    response.headers.emplace_back("WWW-Authenticate", "Bearer");
    return response;
  }
  for (const auto& [key, value] : target.params) {
    bool known = false;
    for (const auto& name : matched->params) known = known || key == name;
    if (!known)
      return error_response(400, "unknown query parameter for " + path.substr(0, 100) + ": " + key.substr(0, 40));
  }
  Response response;
  if (matched->route == Route::asset) {
    const auto& [type, bytes] = assets_.by_path.at(path);
    response.content_type = type;
    response.body = bytes;
    response.headers.emplace_back("Cache-Control", "no-cache");
    if (path == "/")
      response.headers.emplace_back("Content-Security-Policy",
                                    "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
                                    "frame-ancestors 'none'");
    return response;
  }
  if (snapshot == nullptr) return error_response(503, "no run loaded yet");
  try {
    response = answer(matched->route, target.segments, target.params, *snapshot, authorized(request.authorization));
  } catch (const BadRequest& e) {
    response = error_response(400, e.what);
  } catch (const NotFound& e) {
    response = error_response(404, e.what);
  }
  response.headers.emplace_back("X-Mpilake-Run", snapshot->run_id);
  return response;
}

}  // namespace mpilake::serve
