// The user JSON of a ride start (docs/deloton-decisions.md "User JSON").
#include "mpilake/deloton/user_info.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "mpilake/deloton/log_line.hpp"
#include "mpilake/deloton/log_record.hpp"

namespace mpilake::deloton {
namespace {

UserInfo parse_user(std::string_view json) {
  UserInfoParser parser;
  return parser.parse(json);
}

constexpr std::string_view kSteven =
    R"({"user_id":100,"name":"Steven Pearce","gender":"male","address":"0 Simpson locks,Wilkinsonshire,E68 8SH",)"
    R"("date_of_birth":273715200000,"email_address":"steven.p@gmail.com","height_cm":167,"weight_kg":83,)"
    R"("account_create_date":1647993600000,"bike_serial":"SN0000","original_source":"direct"})";

void expect_all_null_but_id(const UserInfo& info) {
  EXPECT_FALSE(info.name);
  EXPECT_FALSE(info.gender);
  EXPECT_FALSE(info.address);
  EXPECT_FALSE(info.email);
  EXPECT_FALSE(info.bike_serial);
  EXPECT_FALSE(info.original_source);
  EXPECT_EQ(info.date_of_birth_ms, kNullInt64);
  EXPECT_EQ(info.account_create_ms, kNullInt64);
  EXPECT_EQ(info.height_cm, kNullInt64);
  EXPECT_EQ(info.weight_kg, kNullInt64);
}

TEST(DelotonUserInfo, AllFields) {
  const UserInfo info = parse_user(kSteven);
  ASSERT_TRUE(info.valid);
  EXPECT_EQ(info.user_id, 100);
  EXPECT_EQ(info.name, "Steven Pearce");
  EXPECT_EQ(info.gender, "male");
  EXPECT_EQ(info.address, "0 Simpson locks,Wilkinsonshire,E68 8SH");
  EXPECT_EQ(info.email, "steven.p@gmail.com");
  EXPECT_EQ(info.bike_serial, "SN0000");
  EXPECT_EQ(info.original_source, "direct");
  EXPECT_EQ(info.date_of_birth_ms, 273715200000);
  EXPECT_EQ(info.account_create_ms, 1647993600000);
  EXPECT_EQ(info.height_cm, 167);
  EXPECT_EQ(info.weight_kg, 83);
}

TEST(DelotonUserInfo, OnlyUserIdIsRequired) {
  const UserInfo info = parse_user(R"({"user_id": 7})");
  ASSERT_TRUE(info.valid);
  EXPECT_EQ(info.user_id, 7);
  expect_all_null_but_id(info);
  EXPECT_TRUE(parse_user(" \t{\"user_id\": 7}\r\n ").valid);  // JSON whitespace around the object
  EXPECT_EQ(parse_user(R"({"user_id": -0})").user_id, 0);     // -0 is the JSON integer 0
  EXPECT_EQ(parse_user(R"({"user_id": -5})").user_id, -5);
  EXPECT_EQ(parse_user(R"({"user_id": 9223372036854775807})").user_id, 9223372036854775807);
  EXPECT_EQ(parse_user(R"({"user_id": -9223372036854775807})").user_id, -9223372036854775807);
}

TEST(DelotonUserInfo, WrongTypesAreNull) {
  const UserInfo info = parse_user(
      R"({"user_id": 1, "name": 5, "gender": null, "address": ["a"], "email_address": {"a": 1}, "bike_serial": true,)"
      R"( "original_source": 1.5, "date_of_birth": "273715200000", "account_create_date": null, "height_cm": 170.0,)"
      R"( "weight_kg": 1e2})");
  ASSERT_TRUE(info.valid);
  expect_all_null_but_id(info);
  const UserInfo more = parse_user(
      R"({"user_id": 1, "height_cm": 170.5, "weight_kg": 123456789012345678901234567890, "date_of_birth": -9223372036854775808,)"
      R"( "account_create_date": 9223372036854775808})");
  ASSERT_TRUE(more.valid);
  expect_all_null_but_id(more);
  EXPECT_EQ(parse_user(R"({"user_id": 1, "height_cm": -0})").height_cm, 0);
  EXPECT_EQ(parse_user(R"({"user_id": 1, "date_of_birth": -842140800000})").date_of_birth_ms, -842140800000);
  EXPECT_EQ(parse_user(R"({"user_id": 1, "height_cm": 1E2})").height_cm, kNullInt64);
  EXPECT_EQ(parse_user(R"({"user_id": 1, "height_cm": 0.0})").height_cm, kNullInt64);
}

TEST(DelotonUserInfo, EmptyStringsAreNullAndEscapesAreRead) {
  const UserInfo info = parse_user(R"({"user_id": 1, "name": "", "gender": "", "email_address": "a\"b\u00e9"})");
  ASSERT_TRUE(info.valid);
  EXPECT_FALSE(info.name);
  EXPECT_FALSE(info.gender);
  EXPECT_EQ(info.email, "a\"b\xc3\xa9");
  EXPECT_EQ(parse_user(R"({"user_id": 1, "name": " "})").name, " ");  // not empty
}

// A NUL character would be cut by the zones' fixed-length strings: it is kept as U+FFFD and counted,
// once per field however many it holds (docs/deloton-decisions.md "NUL characters").
TEST(DelotonUserInfo, NulCharactersBecomeTheReplacementCharacterAndAreCounted) {
  const UserInfo info =
      parse_user(R"({"user_id":1,"name":"Ann\u0000Lee","address":"a\u0000,b,\u0000c\u0000","gender":"\u0000",)"
                 R"("email_address":"x@y","bike_serial":"\u0000\u0000"})");
  ASSERT_TRUE(info.valid);
  EXPECT_EQ(info.name, "Ann\xEF\xBF\xBDLee");
  EXPECT_EQ(info.address,
            "a\xEF\xBF\xBD,b,\xEF\xBF\xBD"
            "c\xEF\xBF\xBD");
  EXPECT_EQ(info.gender, "\xEF\xBF\xBD");  // not NULL: a value was written
  EXPECT_EQ(info.email, "x@y");
  EXPECT_EQ(info.bike_serial, "\xEF\xBF\xBD\xEF\xBF\xBD");
  EXPECT_EQ(info.strings_with_nul, 4);
  EXPECT_EQ(parse_user(kSteven).strings_with_nul, 0);
  // A later occurrence of a key is not read, so its NUL counts nowhere.
  EXPECT_EQ(parse_user(R"({"user_id":1,"name":"A","name":"\u0000"})").strings_with_nul, 0);
}

TEST(DelotonUserInfo, TheFirstOccurrenceOfAKeyCounts) {
  const UserInfo info = parse_user(
      R"({"user_id": 1, "name": "First", "user_id": 2, "name": "Second", "height_cm": 170.0, "height_cm": 180})");
  ASSERT_TRUE(info.valid);
  EXPECT_EQ(info.user_id, 1);
  EXPECT_EQ(info.name, "First");
  EXPECT_EQ(info.height_cm, kNullInt64);  // the first one (170.0) counts, and it is NULL
  // A NULL first occurrence still counts.
  EXPECT_FALSE(parse_user(R"({"user_id": "1", "user_id": 1})").valid);
  EXPECT_FALSE(parse_user(R"({"name": "", "name": "x", "user_id": 1})").name);
  // Escaped keys are the same keys.
  EXPECT_EQ(parse_user(R"({"user\u005fid": 3, "user_id": 4})").user_id, 3);
  // A later duplicate must still be valid JSON.
  EXPECT_FALSE(parse_user(R"({"user_id": 1, "user_id": 01})").valid);
  EXPECT_FALSE(parse_user(R"({"user_id": 1, "name": "a", "name": "\q"})").valid);
}

TEST(DelotonUserInfo, UnknownKeysAreIgnoredButMustBeJson) {
  EXPECT_TRUE(parse_user(R"({"user_id": 1, "extra": {"deep": [1, 2.5, "x", null, true, false, 1e400]}})").valid);
  EXPECT_TRUE(parse_user(R"({"extra": [], "user_id": 1, "other": {}})").valid);
  EXPECT_FALSE(parse_user(R"({"user_id": 1, "extra": [1 2]})").valid);
  EXPECT_FALSE(parse_user(R"({"user_id": 1, "extra": nul})").valid);
  EXPECT_FALSE(parse_user(R"({"user_id": 1, "extra": NaN})").valid);
  EXPECT_FALSE(parse_user(R"({"user_id": 1, "extra": Infinity})").valid);
  EXPECT_FALSE(parse_user(R"({"user_id": 1, "extra": -Infinity})").valid);
  EXPECT_FALSE(parse_user(R"({"user_id": 1, "extra": "\ud800"})").valid);
  EXPECT_FALSE(parse_user(R"({"user_id": 1, "extra": 'x'})").valid);
}

TEST(DelotonUserInfo, BadUserIds) {
  for (const std::string_view json : {
           R"({})",
           R"({"name": "x"})",
           R"({"user_id": null})",
           R"({"user_id": 1.0})",
           R"({"user_id": 1.5})",
           R"({"user_id": 1e2})",
           R"({"user_id": "1"})",
           R"({"user_id": true})",
           R"({"user_id": [1]})",
           R"({"user_id": 9223372036854775808})",
           R"({"user_id": -9223372036854775808})",  // INT64_MIN is NULL's spelling
           R"({"user_id": 18446744073709551616})",
           R"({"user_id": 123456789012345678901234567890})",
           R"({"USER_ID": 1})",
       }) {
    EXPECT_FALSE(parse_user(json).valid) << json;
  }
}

TEST(DelotonUserInfo, InvalidJsonOrNotOneObject) {
  for (const std::string& json : {
           std::string(""),
           std::string("   "),
           std::string("null"),
           std::string("1"),
           std::string(R"("user_id")"),
           std::string(R"([{"user_id": 1}])"),
           std::string(R"({"user_id": 1)"),
           std::string(R"({"user_id": 1}})"),
           std::string(R"({"user_id": 1} x)"),
           std::string(R"({"user_id": 1}{"user_id": 2})"),
           std::string(R"({"user_id": 1},)"),
           std::string(R"({"user_id": 1,})"),
           std::string(R"({"user_id" 1})"),
           std::string(R"({"user_id": 1 "name": "x"})"),
           std::string(R"({user_id: 1})"),
           std::string(R"({'user_id': 1})"),
           std::string(R"({"user_id": 01})"),
           std::string(R"({"user_id": +1})"),
           std::string(R"({"user_id": 1, "name": "unterminated})"),
           std::string(R"({"user_id": 1, "name": "bad \x escape"})"),
           std::string("{\"user_id\": 1, \"name\": \"tab\there\"}"),
           std::string("{\"user_id\": 1, \"name\": \"\xff\"}"),
           std::string("{\"user_id\": 1}\0", 15),  // a NUL after the object
       }) {
    const UserInfo info = parse_user(json);
    EXPECT_FALSE(info.valid) << json;
    EXPECT_EQ(info.user_id, kNullInt64) << json;
    EXPECT_FALSE(info.name) << json;
  }
  // An invalid text makes every field NULL, also those read before the problem.
  const UserInfo info = parse_user(R"({"name": "x", "height_cm": 170, "user_id": 1, "extra": [1,]})");
  EXPECT_FALSE(info.valid);
  expect_all_null_but_id(info);
}

TEST(DelotonUserInfo, ReusesTheParser) {
  UserInfoParser parser;
  EXPECT_TRUE(parser.parse(kSteven).valid);
  EXPECT_FALSE(parser.parse("{").valid);
  const UserInfo small = parser.parse(R"({"user_id": 9, "name": "N"})");
  ASSERT_TRUE(small.valid);
  EXPECT_EQ(small.user_id, 9);
  EXPECT_EQ(small.name, "N");
  EXPECT_FALSE(small.gender);
}

// ../shared/data/deloton/landing, walking up from this file or the working directory (or
// $MPILAKE_DELOTON_LANDING).
std::filesystem::path sample_landing() {
  if (const char* env = std::getenv("MPILAKE_DELOTON_LANDING")) return env;
  for (const auto& start : {std::filesystem::absolute(__FILE__).parent_path(), std::filesystem::current_path()}) {
    for (auto dir = start;; dir = dir.parent_path()) {
      const auto candidate = dir / "shared" / "data" / "deloton" / "landing";
      if (std::filesystem::is_directory(candidate)) return candidate;
      if (dir == dir.parent_path()) break;
    }
  }
  return {};
}

TEST(DelotonUserInfo, EveryRealRideStartHasAValidUser) {
  const auto landing = sample_landing();
  if (landing.empty()) GTEST_SKIP() << "no ../shared/data/deloton/landing";
  LogRecordParser records;
  UserInfoParser users;
  std::string text;
  int ride_starts = 0;
  bool saw_title = false;
  for (const auto& entry : std::filesystem::directory_iterator(landing)) {
    std::ifstream in(entry.path(), std::ios::binary);
    std::string ndjson;
    while (std::getline(in, ndjson)) {
      const std::size_t length = ndjson.size();
      ndjson.append(simdjson::SIMDJSON_PADDING, '\0');
      ASSERT_TRUE(records.parse(ndjson.data(), length, ndjson.size(), text));
      LogLine line;
      ASSERT_EQ(parse_log_line(text, line), LineProblem::none);
      if (line.kind != LineKind::ride_start) continue;
      ++ride_starts;
      const UserInfo user = users.parse(line.user_json);
      ASSERT_TRUE(user.valid) << line.user_json;
      EXPECT_TRUE(user.name && user.gender && user.address && user.email && user.bike_serial && user.original_source);
      EXPECT_NE(user.date_of_birth_ms, kNullInt64);
      EXPECT_NE(user.account_create_ms, kNullInt64);
      EXPECT_NE(user.height_cm, kNullInt64);
      EXPECT_NE(user.weight_kg, kNullInt64);
      EXPECT_EQ(user.bike_serial, "SN0000");
      if (user.user_id == 4527) {
        EXPECT_EQ(user.name, "Mr Stuart Austin");
        saw_title = true;
      }
    }
  }
  EXPECT_GE(ride_starts, 14);  // 2 + 3 + 9
  EXPECT_TRUE(saw_title);
}

}  // namespace
}  // namespace mpilake::deloton
