// The API as a pure function over an in-memory snapshot: routes, values, errors, the privacy rule.
#include "mpilake/serve/api.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "snapshot_fixture.hpp"

namespace mpilake::serve {
namespace {

using nlohmann::json;
const std::string kToken = "correct-horse-battery-staple";

Assets test_assets() {
  Assets assets;
  assets.by_path["/"] = {"text/html; charset=utf-8", "<!doctype html>"};
  assets.by_path["/static/app.js"] = {"text/javascript", "//"};
  assets.by_path["/openapi.json"] = {"application/json", "{}"};
  return assets;
}

class ServeApi : public ::testing::Test {
 protected:
  std::shared_ptr<const Snapshot> snapshot = testing::make_snapshot();
  Api api{kToken, test_assets()};

  Response get(const std::string& target, const std::string& authorization = "", const std::string& method = "GET") {
    return api.handle(Request{method, target, authorization, 100, false}, snapshot.get());
  }
  json get_json(const std::string& target, const std::string& authorization = "") {
    const Response response = get(target, authorization);
    EXPECT_EQ(response.status, 200) << target << ": " << response.body;
    return json::parse(response.body);
  }
  void expect_error(const Response& response, int status, const std::string& type) {
    EXPECT_EQ(response.status, status) << response.body;
    const json body = json::parse(response.body);
    EXPECT_EQ(body["error"]["code"], status);
    EXPECT_EQ(body["error"]["type"], type);
    EXPECT_TRUE(body["message"].is_string() && !body["message"].get<std::string>().empty());
    EXPECT_EQ(response.content_type, "application/json");
  }
};

TEST_F(ServeApi, RideWithAndWithoutReadings) {
  const json ride = get_json("/rides/1");
  EXPECT_EQ(ride["ride_id"], 1);
  EXPECT_EQ(ride["user_id"], 7);
  EXPECT_EQ(ride["readings"], 3);
  EXPECT_EQ(ride["heart_rate_avg"], 120.5);
  const json empty = get_json("/rides/2");
  EXPECT_TRUE(empty["end_time"].is_null());
  EXPECT_TRUE(empty["heart_rate_avg"].is_null());  // NaN -> null
  const json with = get_json("/rides/1?readings=1");
  ASSERT_EQ(with["readings"].size(), 3U);
  EXPECT_TRUE(with["readings"][0]["heart_rate"].is_null());  // INT64_MIN -> null
  EXPECT_EQ(with["readings"][1]["heart_rate"], 190);
  EXPECT_EQ(get_json("/rides/3?readings=1")["readings"].size(), 2U);
  EXPECT_EQ(get_json("/rides/1?readings=0")["readings"], 3);
}

TEST_F(ServeApi, RunIdInEveryApiResponse) {
  for (const char* target : {"/health", "/rides/1", "/rides/99"}) {
    bool found = false;
    for (const auto& [name, value] : get(target).headers)
      found = found || (name == "X-Mpilake-Run" && value == snapshot->run_id);
    EXPECT_TRUE(found) << target;
  }
  EXPECT_EQ(get_json("/health")["run_id"], snapshot->run_id);
}

TEST_F(ServeApi, RidesByDatePaged) {
  json page = get_json("/rides?date=2022-10-01");
  EXPECT_EQ(page["total"], 2);
  EXPECT_EQ(page["rides"].size(), 2U);
  page = get_json("/rides?date=2022-10-01&limit=1&offset=1");
  ASSERT_EQ(page["rides"].size(), 1U);
  EXPECT_EQ(page["rides"][0]["ride_id"], 2);
  EXPECT_EQ(get_json("/rides?date=2022-10-02")["rides"][0]["ride_id"], 3);
  EXPECT_EQ(get_json("/rides?date=2030-01-01")["total"], 0);
  EXPECT_EQ(get_json("/rides?offset=99")["rides"].size(), 0U);
  EXPECT_EQ(get_json("/rides")["total"], 3);
}

TEST_F(ServeApi, RiderPrivacy) {
  const json public_view = get_json("/riders/7");
  for (const char* field : {"title", "first_name", "last_name", "date_of_birth", "email", "address_street",
                            "address_town", "address_postcode", "age"})
    EXPECT_FALSE(public_view.contains(field)) << field;
  EXPECT_EQ(public_view["gender"], "male");
  EXPECT_EQ(public_view["age_band"], "25_34");  // 32 on 2022-10-02, the run's latest date
  const std::string body = get("/riders/7").body;
  for (const char* secret : {"Alexandra", "Quux", "alex@example.com", "Secret", "1990-02-28", "ZZ9"})
    EXPECT_EQ(body.find(secret), std::string::npos) << secret;
  const json personal = get_json("/riders/7", "Bearer " + kToken);
  EXPECT_EQ(personal["first_name"], "Alexandra");
  EXPECT_EQ(personal["email"], "alex@example.com");
  EXPECT_EQ(personal["date_of_birth"], "1990-02-28");
  EXPECT_EQ(personal["age"], 32);
  EXPECT_EQ(get_json("/riders/7", "bearer " + kToken)["first_name"], "Alexandra");  // the scheme is case-blind
  EXPECT_TRUE(get_json("/riders/9")["age_band"].is_null());
  EXPECT_EQ(get_json("/riders/7/rides")["total"], 2);
}

// DELOTON.md's gender classes, also for a riders zone written with the text as given (older runs).
TEST_F(ServeApi, RiderGenderIsTheClass) {
  auto old = std::make_shared<Snapshot>(*snapshot);
  StringColumn genders;
  genders.push_back("male");
  genders.push_back("Female");  // rider 9: not "female" as written
  old->riders.strings(deloton::riders::kGender) = genders;
  snapshot = old;
  EXPECT_EQ(get_json("/riders/9")["gender"], "other");
  EXPECT_EQ(get_json("/riders/7")["gender"], "male");
}

TEST_F(ServeApi, AlertPrivacy) {
  const json public_view = get_json("/alerts?date=2022-10-01");
  ASSERT_EQ(public_view["alerts"].size(), 1U);
  const json alert = public_view["alerts"][0];
  for (const char* field : {"email", "first_name", "age", "hr_lower", "hr_upper"})
    EXPECT_FALSE(alert.contains(field)) << field;
  EXPECT_EQ(alert["age_band"], "25_34");
  EXPECT_EQ(alert["kind"], "high");
  const json personal = get_json("/alerts?date=2022-10-01", "Bearer " + kToken)["alerts"][0];
  EXPECT_EQ(personal["email"], "alex@example.com");
  EXPECT_EQ(personal["age"], 32);
  EXPECT_EQ(personal["hr_upper"], 188);
  EXPECT_EQ(get_json("/alerts?date=2022-10-02")["total"], 0);
}

TEST_F(ServeApi, LivePrivacy) {
  const json open = json::parse(get("/live").body);
  EXPECT_EQ(open["current_ride"]["ride"]["ride_id"], 3);
  EXPECT_FALSE(open["current_ride"]["rider"].contains("first_name"));
  EXPECT_TRUE(open["current_ride"]["safe_range"].is_null());
  EXPECT_EQ(get("/live").body.find("Alexandra"), std::string::npos);
  const json staff = json::parse(get("/live", "Bearer " + kToken).body);
  EXPECT_EQ(staff["current_ride"]["rider"]["first_name"], "Alexandra");
  EXPECT_EQ(staff["current_ride"]["safe_range"]["hr_upper"], 220 - 32);
  EXPECT_EQ(staff["current_ride"]["safe_range"]["hr_lower"], 40);
  EXPECT_EQ(staff["current_ride"]["personal_bests"]["rides"], 2);
  const json window = staff["last_12_hours"];
  EXPECT_EQ(window["rides"], 1);  // ride 3 only: rides 1 and 2 started over 12 h before the latest time
  EXPECT_EQ(window["readings"], 2);
  EXPECT_EQ(window["energy_kj"], 0.2);
  EXPECT_EQ(window["riders_by_gender"]["male"], 1);
}

TEST_F(ServeApi, Daily) {
  EXPECT_EQ(get_json("/daily?date=2022-10-02")["date"], "2022-10-02");
  EXPECT_EQ(get_json("/daily")["days"].size(), 2U);
  expect_error(get("/daily?date=2022-10-03"), 404, "not_found");
}

TEST_F(ServeApi, Errors) {
  expect_error(get("/rides/abc"), 400, "bad_request");
  expect_error(get("/rides/-1"), 400, "bad_request");
  expect_error(get("/rides/99999999999999999999"), 400, "bad_request");
  expect_error(get("/rides/4"), 404, "not_found");
  expect_error(get("/riders/8"), 404, "not_found");
  expect_error(get("/rides?date=2022-02-30"), 400, "bad_request");
  expect_error(get("/rides?limit=1001"), 400, "bad_request");
  expect_error(get("/rides?sort=desc"), 400, "bad_request");
  expect_error(get("/rides/1?readings=yes"), 400, "bad_request");
  expect_error(get("/nope"), 404, "not_found");
  expect_error(get("/static/../openapi.json"), 400, "bad_request");
  expect_error(get("/rides/1", "", "DELETE"), 405, "method_not_allowed");
  EXPECT_NE(get("/rides/1", "", "DELETE").body.find("zones are the record"), std::string::npos);
  expect_error(get("/health", "", "POST"), 405, "method_not_allowed");
  expect_error(get("/" + std::string(5000, 'a')), 414, "uri_too_long");
  expect_error(api.handle(Request{"GET", "/health", "", 100'000, false}, snapshot.get()), 431,
               "header_fields_too_large");
  expect_error(api.handle(Request{"GET", "/health", "", 100, true}, snapshot.get()), 413, "payload_too_large");
  expect_error(get("/health", "Bearer wrong"), 401, "unauthorized");
  expect_error(get("/health", "Bearer " + kToken + "x"), 401, "unauthorized");
  expect_error(get("/health", "Basic " + kToken), 401, "unauthorized");
  expect_error(api.handle(Request{"GET", "/health", "", 0, false}, nullptr), 503, "unavailable");
  EXPECT_EQ(api.handle(Request{"GET", "/", "", 0, false}, nullptr).status, 200);  // the page loads before a run
}

TEST_F(ServeApi, NoTokenConfiguredMeansNoPersonalFields) {
  const Api closed(std::nullopt, test_assets());
  const Response response = closed.handle(Request{"GET", "/riders/7", "Bearer " + kToken, 0, false}, snapshot.get());
  EXPECT_EQ(response.status, 401);
  EXPECT_EQ(response.body.find("Alexandra"), std::string::npos);
}

TEST(ServeToken, ConstantTimeEqual) {
  EXPECT_TRUE(constant_time_equal("abc", "abc"));
  EXPECT_FALSE(constant_time_equal("abc", "abd"));
  EXPECT_FALSE(constant_time_equal("abc", "abcd"));
  EXPECT_FALSE(constant_time_equal("", "a"));
  EXPECT_TRUE(constant_time_equal("", ""));
}

}  // namespace
}  // namespace mpilake::serve
