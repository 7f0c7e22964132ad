// Property test of request handling: random methods, targets (escapes, dots, NULs, huge numbers,
// long strings) and authorization headers never crash the handler, and every answer is either a 2xx
// or a JSON error of the documented shape whose code is the status; never a personal value without
// the token.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <random>

#include "mpilake/serve/api.hpp"
#include "snapshot_fixture.hpp"

namespace mpilake::serve {
namespace {

std::string random_piece(std::mt19937_64& rng) {
  static const std::vector<std::string> pieces = {"/",
                                                  "rides",
                                                  "riders",
                                                  "daily",
                                                  "alerts",
                                                  "live",
                                                  "health",
                                                  "static",
                                                  "openapi.json",
                                                  "app.js",
                                                  "1",
                                                  "3",
                                                  "7",
                                                  "0",
                                                  "-1",
                                                  "99999999999999999999",
                                                  "9223372036854775807",
                                                  "..",
                                                  ".",
                                                  "%00",
                                                  "%2e",
                                                  "%2F",
                                                  "%zz",
                                                  "%",
                                                  "?",
                                                  "&",
                                                  "=",
                                                  "date",
                                                  "2022-10-01",
                                                  "2022-02-30",
                                                  "limit",
                                                  "offset",
                                                  "readings",
                                                  "1000",
                                                  "1001",
                                                  "+",
                                                  "#",
                                                  "%C3%A9",
                                                  "\xff",
                                                  "\x01",
                                                  " ",
                                                  "a"};
  if (rng() % 40 == 0) return std::string(rng() % 6000, "a9/%"[rng() % 4]);
  return pieces[rng() % pieces.size()];
}

TEST(ServeRequestFuzz, AlwaysA2xxOrAJsonError) {
  const auto snapshot = testing::make_snapshot();
  Assets assets;
  assets.by_path["/"] = {"text/html", "<!doctype html>"};
  assets.by_path["/static/app.js"] = {"text/javascript", "//"};
  const Api api("correct-horse-battery-staple", assets);
  std::mt19937_64 rng(20261201);
  const std::vector<std::string> methods = {"GET",    "GET", "GET",     "HEAD", "POST",
                                            "DELETE", "PUT", "OPTIONS", "BREW", ""};
  const std::vector<std::string> authorizations = {
      "", "", "Bearer correct-horse-battery-staple", "Bearer x", "Bearer", "Basic abc", std::string(300, 'B')};
  int ok = 0, errors = 0;
  for (int round = 0; round < 30000; ++round) {
    std::string target = rng() % 10 == 0 ? "" : "/";
    const int pieces = static_cast<int>(rng() % 8);
    for (int p = 0; p < pieces; ++p) target += random_piece(rng);
    Request request{methods[rng() % methods.size()], target, authorizations[rng() % authorizations.size()],
                    static_cast<std::size_t>(rng() % 20000), rng() % 20 == 0};
    const Response response = api.handle(request, rng() % 50 == 0 ? nullptr : snapshot.get());
    if (response.status >= 200 && response.status < 300) {
      ++ok;
    } else {
      ++errors;
      ASSERT_GE(response.status, 400) << target;
      ASSERT_LT(response.status, 600) << target;
      const auto body = nlohmann::json::parse(response.body);  // throws (fails) when not JSON
      ASSERT_EQ(body["error"]["code"], response.status) << target;
      ASSERT_TRUE(body["error"]["type"].is_string());
      ASSERT_TRUE(body["message"].is_string());
    }
    if (request.authorization.find("correct-horse") == std::string::npos) {
      for (const char* secret : {"Alexandra", "alex@example.com", "1990-02-28", "Secret Street"})
        ASSERT_EQ(response.body.find(secret), std::string::npos) << target;
    }
  }
  EXPECT_GT(ok, 100);
  EXPECT_GT(errors, 1000);
}

}  // namespace
}  // namespace mpilake::serve
