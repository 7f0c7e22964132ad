// The Deloton record and log line grammar (DELOTON.md "The landing zone", docs/deloton-decisions.md
// "Quarantine reasons" and "Line shapes"), the timestamp and the calendar helpers.
#include "mpilake/deloton/log_line.hpp"

#include <gtest/gtest.h>

#include <charconv>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <random>
#include <string>
#include <system_error>
#include <vector>

#include "mpilake/deloton/log_record.hpp"

namespace mpilake::deloton {
namespace {

constexpr std::string_view kTs = "2022-11-03 18:42:00.422392";
constexpr std::int64_t kTsMicros = 1667500920422392;

// `prefix` "<ts> mendoza v9: " + rest.
std::string line_of(std::string_view rest) {
  return std::string(kTs) + " mendoza v9: " + std::string(rest);
}

// Test texts live until the end of the program, so that the views of a LogLine stay valid.
std::string_view kept(std::string text) {
  static std::deque<std::string> texts;
  return texts.emplace_back(std::move(text));
}

LineProblem problem_of(std::string_view text) {
  LogLine line;
  return parse_log_line(text, line);
}

struct Record {
  bool ok = false;
  std::string text;
};

Record parse_record(const std::string& ndjson) {
  LogRecordParser parser;
  std::string padded = ndjson + std::string(simdjson::SIMDJSON_PADDING, '\0');
  Record record;
  record.ok = parser.parse(padded.data(), ndjson.size(), padded.size(), record.text);
  return record;
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

// ---------------------------------------------------------------------------------------------------
// Records

TEST(DelotonLogRecord, TakesTheLogTextLessOneFinalNewline) {
  EXPECT_EQ(parse_record(R"({"log": "2022 x: y\n"})").text, "2022 x: y");
  EXPECT_EQ(parse_record(R"({"log": "a\r\n"})").text, "a");
  EXPECT_EQ(parse_record(R"({"log": "a\n\n"})").text, "a\n");    // only one newline goes
  EXPECT_EQ(parse_record(R"({"log": "a\r"})").text, "a\r");      // a \r only before the \n
  EXPECT_EQ(parse_record(R"({"log": "a\n\r\n"})").text, "a\n");  // one \n and the \r before it
  EXPECT_EQ(parse_record(R"({"log": "no newline"})").text, "no newline");
  EXPECT_EQ(parse_record(R"({"log": ""})").text, "");
  EXPECT_EQ(parse_record(R"({"log": "\n"})").text, "");
}

TEST(DelotonLogRecord, UnescapesAndAcceptsAnyValidJsonAround) {
  const Record escaped = parse_record(R"({"log": "q\"b\\s\/\t\u00e9\ud83d\ude00\n"})");
  ASSERT_TRUE(escaped.ok);
  EXPECT_EQ(escaped.text, "q\"b\\s/\t\xc3\xa9\xf0\x9f\x98\x80");
  EXPECT_TRUE(parse_record("  {\"log\" : \"a\"}  \r").ok);  // JSON whitespace and a CRLF line end
  EXPECT_TRUE(parse_record(R"({"\u006cog": "escaped key"})").ok);
  EXPECT_EQ(parse_record(R"({"\u006cog": "escaped key"})").text, "escaped key");
  const Record extra = parse_record(
      R"({"offset": 12, "ts": 1e400, "big": 123456789012345678901234567890, "nested": {"a": [1, {"b": null}, true, "x"]},)"
      R"( "log": "text", "after": false})");
  ASSERT_TRUE(extra.ok);
  EXPECT_EQ(extra.text, "text");
  // The first "log" counts; a later one may be anything valid.
  EXPECT_EQ(parse_record(R"({"log": "first", "log": 5})").text, "first");
  EXPECT_EQ(parse_record(R"({"log": "first", "log": "second"})").text, "first");
}

TEST(DelotonLogRecord, BadRecords) {
  for (const std::string& bad : {
           std::string(""),
           std::string("   "),
           std::string("not json"),
           std::string(R"("log")"),
           std::string(R"(["log", "a"])"),
           std::string(R"({"log": 5})"),
           std::string(R"({"log": null})"),
           std::string(R"({"log": ["a"]})"),
           std::string(R"({"log": 5, "log": "a"})"),  // the first log key counts
           std::string(R"({"other": "a"})"),
           std::string(R"({})"),
           std::string(R"({"log": "a"} x)"),
           std::string(R"({"log": "a"}})"),
           std::string(R"({"log": "a"}{"log": "b"})"),
           std::string(R"({"log": "a",})"),
           std::string(R"({"log": "a" "b": 1})"),
           std::string(R"({"log": "a)"),
           std::string(R"({"log": "a\x"})"),
           std::string(R"({"log": "a\u00"})"),
           std::string(R"({"log": "a\ud800"})"),        // unpaired high surrogate
           std::string(R"({"log": "a\udc00b"})"),       // unpaired low surrogate
           std::string(R"({"log": "a\ud800\u0041"})"),  // high surrogate without its low half
           std::string("{\"log\": \"a\x01\"}"),         // control character
           std::string("{\"log\": \"a\xff\"}"),         // invalid UTF-8
           std::string("{\"log\": \"\xc3\"}"),          // truncated UTF-8
           std::string("{\"log\": \"\xed\xa0\x80\"}"),  // an encoded surrogate
           std::string(R"({"log": "a", "x": nul})"),
           std::string(R"({"log": "a", "x": truex})"),
           std::string(R"({"log": "a", "x": 01})"),
           std::string(R"({"log": "a", "x": 1.})"),
           std::string(R"({"log": "a", "x": -})"),
           std::string(R"({"log": "a", "x": NaN})"),
           std::string(R"({"log": "a", "x": Infinity})"),
           std::string(R"({"log": "a", "x": [1 2]})"),
           std::string(R"({"log": "a", "x": [1,]})"),
           std::string(R"({"log": "a", "x": {"y" 1}})"),
           std::string(R"({"log": "a", "x": "\q"})"),
           std::string(R"({"log": "a", "\q": 1})"),  // invalid escape in a key
           std::string(R"({"log": "a", "log": "\q"})"),
           std::string(R"({"log": "a", "x": [[[[)"),
       }) {
    EXPECT_FALSE(parse_record(bad).ok) << bad;
  }
}

TEST(DelotonLogRecord, DeepNestingInAnIgnoredKeyIsRejected) {
  const std::string deep = R"({"log": "a", "x": )" + std::string(1100, '[') + std::string(1100, ']') + "}";
  EXPECT_FALSE(parse_record(deep).ok);
  const std::string fine = R"({"log": "a", "x": )" + std::string(100, '[') + std::string(100, ']') + "}";
  EXPECT_TRUE(parse_record(fine).ok);
}

// The canonical path (no simdjson) gives what simdjson gives, record by record, and takes the records
// it should: every feed line but the ride starts' escaped user JSON.
TEST(DelotonLogRecord, CanonicalPathEqualsSimdjson) {
  const std::vector<std::string> records = {
      R"({"log": "2022-10-03 00:00:00.159126 lomos v5: [INFO]: Telemetry - hrt = 138; rpm = 72; power = 1.5\n"})",
      R"({"log": "no newline"})",
      R"({"log": ""})",
      R"({"log": "\n"})",
      R"({"log": "two\n\n"})",
      R"({"log": "cr\r\n"})",
      R"({"log": "quote \" inside\n"})",
      R"({"log": "tab	raw\n"})",
      "{\"log\": \"caf\xc3\xa9\\n\"}",
      "{\"log\": \"bad \xff utf8\\n\"}",
      R"({"log": "x\n"} )",
      R"({"log": "x\n"}})",
      R"({"log": "x\n"},)",
      R"({"log": "x\n", "log": "y"})",
      R"({"log": "x\n" })",
      R"({"log": "x\n"})"
      "\r",
      R"({"log": "x\n)",
      R"({"log": "x)",
      R"({"log": "x\u0041\n"})",
      R"({"log":"x\n"})",
      R"({"log": "\\n"})",
      R"({"log": "end\\"})",
      R"({"log": "\n"}x)",
      R"({"log": "x\q"})",
      R"({"log": "x\n"})"};
  LogRecordParser canonical(true), plain(false);
  std::int64_t expected_canonical = 0;
  for (const std::string& ndjson : records) {
    std::string padded = ndjson + std::string(simdjson::SIMDJSON_PADDING, '\0');
    std::string_view fast;
    std::string slow;
    const bool fast_ok = canonical.parse(padded.data(), ndjson.size(), padded.size(), fast);
    const bool slow_ok = plain.parse(padded.data(), ndjson.size(), padded.size(), slow);
    ASSERT_EQ(fast_ok, slow_ok) << ndjson;
    if (slow_ok) {
      EXPECT_EQ(std::string(fast), slow) << ndjson;
    }
  }
  // Canonical: the telemetry line, "no newline", "", "\n" and the last record.
  expected_canonical = 5;
  EXPECT_EQ(canonical.canonical_records(), expected_canonical);
  EXPECT_EQ(plain.canonical_records(), 0);
}

// The generated feed: every record read the same both ways, and all but the ride starts canonical.
TEST(DelotonLogRecord, CanonicalPathEqualsSimdjsonOnGeneratedLines) {
  std::string text;
  for (int i = 0; i < 200; ++i) {
    text += R"({"log": "2022-10-03 00:00:)" + std::to_string(10 + i % 50) +
            R"(.255783 patinez v9: [INFO]: Ride - duration = )" + std::to_string(i) +
            ".0; resistance = " + std::to_string(i % 90) + "\\n\"}\n";
    if (i % 50 == 0)
      text +=
          R"({"log": "2022-10-03 05:04:30.258243 patinez v9: [SYSTEM] data = {\"user_id\":266,\"name\":\"Lee King\"}\n"})"
          "\n";
  }
  LogRecordParser canonical(true), plain(false);
  std::size_t begin = 0, lines = 0;
  text += std::string(simdjson::SIMDJSON_PADDING, '\0');
  while (true) {
    const std::size_t end = text.find('\n', begin);
    if (end == std::string::npos) break;
    std::string_view fast;
    std::string slow;
    ASSERT_TRUE(canonical.parse(text.data() + begin, end - begin, text.size() - begin, fast));
    ASSERT_TRUE(plain.parse(text.data() + begin, end - begin, text.size() - begin, slow));
    EXPECT_EQ(std::string(fast), slow);
    begin = end + 1;
    ++lines;
  }
  EXPECT_EQ(lines, 204u);
  EXPECT_EQ(canonical.canonical_records(), 200);
}

TEST(DelotonLogRecord, ReusesTheParserAcrossRecords) {
  LogRecordParser parser;
  std::string text;
  for (const std::string& ndjson :
       {std::string(R"({"log": "long text here\n"})"), std::string("broken"), std::string(R"({"log": "b"})")}) {
    std::string padded = ndjson + std::string(simdjson::SIMDJSON_PADDING, '\0');
    parser.parse(padded.data(), ndjson.size(), padded.size(), text);
  }
  EXPECT_EQ(text, "b");
}

// ---------------------------------------------------------------------------------------------------
// Line shapes

TEST(DelotonLogLine, TextMarkers) {
  for (const std::string_view text : {"--------- beginning of main", "--------- beginning of a new ride"}) {
    LogLine line;
    ASSERT_EQ(parse_log_line(text, line), LineProblem::none) << text;
    EXPECT_EQ(line.kind, LineKind::marker);
    EXPECT_EQ(line.timestamp_us, kNoTimestamp);
    EXPECT_EQ(line.bike, "");
  }
  for (const std::string_view text :
       {"--------- beginning of main ", " --------- beginning of main", "--------- beginning of Main",
        "--------- beginning of a new ride.", "---------  beginning of main", "--------- beginning of"}) {
    EXPECT_EQ(problem_of(text), LineProblem::unknown_shape) << text;
  }
}

TEST(DelotonLogLine, GettingUserDataMarkerHasItsTimestampChecked) {
  LogLine line;
  ASSERT_EQ(parse_log_line(kept(line_of("Getting user data from server..")), line), LineProblem::none);
  EXPECT_EQ(line.kind, LineKind::marker);
  EXPECT_EQ(line.timestamp_us, kTsMicros);
  EXPECT_EQ(line.bike, "mendoza v9");
  EXPECT_EQ(problem_of("2022-02-30 00:00:00 b: Getting user data from server.."), LineProblem::bad_timestamp);
  for (const std::string_view rest : {"Getting user data from server.", "Getting user data from server...",
                                      "Getting user data from server.. ", "getting user data from server.."}) {
    EXPECT_EQ(problem_of(line_of(rest)), LineProblem::unknown_shape) << rest;
  }
}

TEST(DelotonLogLine, RideStart) {
  const std::string json = R"({"user_id":100,"name":"Steven Pearce"})";
  LogLine line;
  ASSERT_EQ(parse_log_line(kept(line_of("[SYSTEM] data = " + json)), line), LineProblem::none);
  EXPECT_EQ(line.kind, LineKind::ride_start);
  EXPECT_EQ(line.timestamp_us, kTsMicros);
  EXPECT_EQ(line.bike, "mendoza v9");
  EXPECT_EQ(line.user_json, json);
  // The user JSON is not looked at here: any rest, even empty, is a ride start (bad_user_json later).
  ASSERT_EQ(parse_log_line(kept(line_of("[SYSTEM] data = ")), line), LineProblem::none);
  EXPECT_EQ(line.kind, LineKind::ride_start);
  EXPECT_EQ(line.user_json, "");
  ASSERT_EQ(parse_log_line(kept(line_of("[SYSTEM] data = not json")), line), LineProblem::none);
  EXPECT_EQ(line.user_json, "not json");
  for (const std::string_view rest :
       {"[SYSTEM] data ={}", "[SYSTEM] data= {}", "[SYSTEM]  data = {}", "[system] data = {}", "[SYSTEM]: data = {}",
        "SYSTEM data = {}", "[SYSTEM] data =", " [SYSTEM] data = {}"}) {
    EXPECT_EQ(problem_of(line_of(rest)), LineProblem::unknown_shape) << rest;
  }
  EXPECT_EQ(problem_of("2022-11-03 25:00:00 b: [SYSTEM] data = {}"), LineProblem::bad_timestamp);
}

TEST(DelotonLogLine, RideLine) {
  LogLine line;
  ASSERT_EQ(parse_log_line(kept(line_of("[INFO]: Ride - duration = 57.0; resistance = 30")), line), LineProblem::none);
  EXPECT_EQ(line.kind, LineKind::ride);
  EXPECT_EQ(line.timestamp_us, kTsMicros);
  EXPECT_EQ(line.bike, "mendoza v9");
  EXPECT_EQ(line.duration, 57.0);
  EXPECT_EQ(line.resistance, 30);
  EXPECT_EQ(line.user_json, "");
  ASSERT_EQ(parse_log_line(kept(line_of("[INFO]: Ride - duration = 9.737739856000001; resistance = 007")), line),
            LineProblem::none);
  EXPECT_EQ(line.duration, 9.737739856000001);
  EXPECT_EQ(line.resistance, 7);
  ASSERT_EQ(parse_log_line(kept(line_of("[INFO]: Ride - duration = 1e2; resistance = 0")), line), LineProblem::none);
  EXPECT_EQ(line.duration, 100.0);
}

TEST(DelotonLogLine, TelemetryLine) {
  LogLine line;
  ASSERT_EQ(parse_log_line(kept(line_of("[INFO]: Telemetry - hrt = 72; rpm = 32; power = 6.7621935010000005")), line),
            LineProblem::none);
  EXPECT_EQ(line.kind, LineKind::telemetry);
  EXPECT_EQ(line.timestamp_us, kTsMicros);
  EXPECT_EQ(line.bike, "mendoza v9");
  EXPECT_EQ(line.hrt, 72);
  EXPECT_EQ(line.rpm, 32);
  EXPECT_EQ(line.power, 6.7621935010000005);
  EXPECT_EQ(line.duration, 0.0);  // fields of other kinds are reset
  EXPECT_EQ(line.resistance, 0);
  ASSERT_EQ(parse_log_line(kept(line_of("[INFO]: Telemetry - hrt = 0; rpm = 0; power = 0")), line), LineProblem::none);
  EXPECT_EQ(line.power, 0.0);
}

TEST(DelotonLogLine, BikeIsTheNonEmptyTextUpToTheFirstColonSpace) {
  LogLine line;
  ASSERT_EQ(parse_log_line(kept(std::string(kTs) + " a:b c:d: Getting user data from server.."), line),
            LineProblem::none);
  EXPECT_EQ(line.bike, "a:b c:d");
  ASSERT_EQ(parse_log_line(kept(std::string(kTs) + "  lead: Getting user data from server.."), line),
            LineProblem::none);
  EXPECT_EQ(line.bike, " lead");  // the timestamp ends at the second space; the bike may hold spaces
  ASSERT_EQ(parse_log_line(kept(std::string(kTs) + " x: [INFO]: Ride - duration = 1; resistance = 2"), line),
            LineProblem::none);
  EXPECT_EQ(line.bike, "x");
  // A bike with ": " in it is cut there, and the rest then has no known shape.
  EXPECT_EQ(problem_of(std::string(kTs) + " a: b: Getting user data from server.."), LineProblem::unknown_shape);
  EXPECT_EQ(problem_of(std::string(kTs) + " : Getting user data from server.."), LineProblem::unknown_shape);
  EXPECT_EQ(problem_of(std::string(kTs) + ": Getting user data from server.."), LineProblem::unknown_shape);
  EXPECT_EQ(problem_of(std::string(kTs) + " mendoza v9 Getting user data from server.."), LineProblem::unknown_shape);
  EXPECT_EQ(problem_of(std::string(kTs) + " mendoza v9:Getting user data from server.."), LineProblem::unknown_shape);
  EXPECT_EQ(problem_of(std::string(kTs) + " mendoza v9 : Getting user data from server.."), LineProblem::none);
}

TEST(DelotonLogLine, UnknownShapes) {
  for (const std::string& text : {
           std::string(""),
           std::string(" "),
           std::string("hello"),
           std::string("hello world"),
           std::string(kTs),
           std::string(kTs) + " ",
           std::string(kTs) + " mendoza v9",
           std::string(kTs) + " mendoza v9:",
           std::string(kTs) + " mendoza v9: ",
           line_of("[INFO]: Ride - duration = 1.0, resistance = 30"),
           line_of("[INFO]: Ride - duration = 1.0;resistance = 30"),
           line_of("[INFO]: Ride - duration = 1.0"),
           line_of("[INFO]: Ride - duration = "),
           line_of("[INFO]: Ride - duration=1.0; resistance = 30"),
           line_of("[INFO]: Ride - duration =1.0; resistance = 30"),
           line_of("[INFO]: Ride -  duration = 1.0; resistance = 30"),
           line_of("[INFO]:  Ride - duration = 1.0; resistance = 30"),
           line_of("[INFO] Ride - duration = 1.0; resistance = 30"),
           line_of("[info]: Ride - duration = 1.0; resistance = 30"),
           line_of("[INFO]: ride - duration = 1.0; resistance = 30"),
           line_of("[INFO]: Ride - resistance = 30; duration = 1.0"),
           line_of(" [INFO]: Ride - duration = 1.0; resistance = 30"),
           line_of("[INFO]: Telemetry - hrt = 1; rpm = 2"),
           line_of("[INFO]: Telemetry - hrt = 1; power = 3.0; rpm = 2"),
           line_of("[INFO]: Telemetry - hrt = 1; rpm = 2; power=3.0"),
           line_of("[INFO]: Telemetry - hrt = 1;rpm = 2; power = 3.0"),
           line_of("[INFO]: Telemetry - hrt = 1"),
           line_of("[INFO]: Telemetry hrt = 1; rpm = 2; power = 3.0"),
           line_of("[INFO]: Something - x = 1"),
           line_of("[INFO]:"),
           line_of("[WARN]: Ride - duration = 1.0; resistance = 30"),
           // a truncated line
           std::string("2022-11-03 18:42:00.422392 mendoza v9: [INFO]: Telemetry - hrt = 72; rp"),
           std::string("2022-11-03 18:42:00.4223"),
           // the shape comes before the timestamp: a bad timestamp in an unknown shape is unknown_shape
           std::string("9999-99-99 99:99:99 b: nothing"),
       }) {
    EXPECT_EQ(problem_of(text), LineProblem::unknown_shape) << text;
  }
}

TEST(DelotonLogLine, BadTimestampsComeAfterTheShape) {
  const std::string rest = "b: [INFO]: Ride - duration = 1.0; resistance = 30";
  for (const std::string ts : {"2022-11-03 18:42:00.", "2022-11-03 18:42:00.1234567", "2022-02-29 00:00:00",
                               "0000-01-01 00:00:00", "2022-11-03 18:42:60", "2022-11-03 24:00:00", "x y",
                               "2022-11-03 18:42", "2022-11-03T18:42:00 x", "2022-11-03 18:42:00Z"}) {
    EXPECT_EQ(problem_of(ts + " " + rest), LineProblem::bad_timestamp) << ts;
  }
  // The timestamp is checked before the numbers.
  EXPECT_EQ(problem_of("2022-11-03 18:42:60 b: [INFO]: Ride - duration = x; resistance = -1"),
            LineProblem::bad_timestamp);
}

TEST(DelotonLogLine, BadNumbers) {
  for (const std::string_view duration : {"",          " 1.0",
                                          "1.0 ",      "+1.0",
                                          "1.",        ".5",
                                          "01.0",      "00",
                                          "-01",       "1e",
                                          "1e+",       "1.0e",
                                          "0x10",      "1,0",
                                          "NaN",       "nan",
                                          "inf",       "Infinity",
                                          "-Infinity", "1e400",
                                          "-1e400",    "1.7976931348623159e308",
                                          "1..0",      "1.0.0",
                                          "--1",       "1f",
                                          "\"1.0\"",   "1_000"}) {
    EXPECT_EQ(problem_of(line_of("[INFO]: Ride - duration = " + std::string(duration) + "; resistance = 30")),
              LineProblem::bad_number)
        << "duration = '" << duration << "'";
  }
  for (const std::string_view integer :
       {"", " 30", "30 ", "+30", "30.0", "3e1", "1e2", "0x1e", "30a", "-", "9223372036854775808",
        "-9223372036854775809", "99999999999999999999999", "NaN", "3 0", "٣"}) {
    EXPECT_EQ(problem_of(line_of("[INFO]: Ride - duration = 1.0; resistance = " + std::string(integer))),
              LineProblem::bad_number)
        << "resistance = '" << integer << "'";
    EXPECT_EQ(problem_of(line_of("[INFO]: Telemetry - hrt = " + std::string(integer) + "; rpm = 2; power = 3.0")),
              LineProblem::bad_number)
        << "hrt = '" << integer << "'";
    EXPECT_EQ(problem_of(line_of("[INFO]: Telemetry - hrt = 1; rpm = " + std::string(integer) + "; power = 3.0")),
              LineProblem::bad_number)
        << "rpm = '" << integer << "'";
  }
  // A value holding the next separator again is cut at its first occurrence.
  EXPECT_EQ(problem_of(line_of("[INFO]: Ride - duration = 1.0; resistance = 30; resistance = 30")),
            LineProblem::bad_number);
  EXPECT_EQ(problem_of(line_of("[INFO]: Telemetry - hrt = 1; rpm = 2; rpm = 2; power = 3.0")), LineProblem::bad_number);
  EXPECT_EQ(problem_of(line_of("[INFO]: Telemetry - hrt = 1; rpm = 2; power = 3.0; power = 3.0")),
            LineProblem::bad_number);
  EXPECT_EQ(problem_of(line_of("[INFO]: Telemetry - hrt = 1; rpm = 2; power = 3.0\r")), LineProblem::bad_number);
}

TEST(DelotonLogLine, NumberEdgesThatAreFine) {
  LogLine line;
  ASSERT_EQ(parse_log_line(kept(line_of("[INFO]: Telemetry - hrt = -0; rpm = 0000000000000000000000042; power = -0.0")),
                           line),
            LineProblem::none);
  EXPECT_EQ(line.hrt, 0);
  EXPECT_EQ(line.rpm, 42);
  EXPECT_EQ(line.power, 0.0);
  ASSERT_EQ(
      parse_log_line(kept(line_of("[INFO]: Telemetry - hrt = 9223372036854775807; rpm = 1; power = 1.5E+3")), line),
      LineProblem::none);
  EXPECT_EQ(line.hrt, std::numeric_limits<std::int64_t>::max());
  EXPECT_EQ(line.power, 1500.0);
  ASSERT_EQ(parse_log_line(kept(line_of("[INFO]: Ride - duration = 1e-400; resistance = 0")), line), LineProblem::none);
  EXPECT_EQ(line.duration, 0.0);  // an underflow is zero, as in any JSON reader
  ASSERT_EQ(parse_log_line(kept(line_of("[INFO]: Ride - duration = 1.7976931348623157e308; resistance = 0")), line),
            LineProblem::none);
  EXPECT_EQ(line.duration, std::numeric_limits<double>::max());
  ASSERT_EQ(parse_log_line(kept(line_of("[INFO]: Ride - duration = 0.1e1; resistance = 0")), line), LineProblem::none);
  EXPECT_EQ(line.duration, 1.0);
}

TEST(DelotonLogLine, NegativeValuesAfterEveryNumberIsInTheGrammar) {
  for (const std::string_view rest :
       {"[INFO]: Ride - duration = -1.0; resistance = 30", "[INFO]: Ride - duration = 1.0; resistance = -30",
        "[INFO]: Ride - duration = -1e-400; resistance = 0", "[INFO]: Telemetry - hrt = -1; rpm = 2; power = 3.0",
        "[INFO]: Telemetry - hrt = 1; rpm = -2; power = 3.0", "[INFO]: Telemetry - hrt = 1; rpm = 2; power = -3.0",
        "[INFO]: Telemetry - hrt = -9223372036854775808; rpm = 2; power = 3.0",
        "[INFO]: Telemetry - hrt = 1; rpm = 2; power = -5e-324"}) {
    const LineProblem expected =
        rest.find("-1e-400") != std::string_view::npos ? LineProblem::none : LineProblem::negative_value;
    EXPECT_EQ(problem_of(line_of(rest)), expected) << rest;  // -1e-400 is -0.0: not below zero
  }
  // A bad number anywhere wins over a negative one before it.
  EXPECT_EQ(problem_of(line_of("[INFO]: Telemetry - hrt = -1; rpm = x; power = 3.0")), LineProblem::bad_number);
  EXPECT_EQ(problem_of(line_of("[INFO]: Ride - duration = -1.0; resistance = 1.0")), LineProblem::bad_number);
}

TEST(DelotonLogLine, ReasonNames) {
  EXPECT_EQ(reason_name(LineProblem::none), "");
  EXPECT_EQ(reason_name(LineProblem::unknown_shape), "unknown_shape");
  EXPECT_EQ(reason_name(LineProblem::bad_timestamp), "bad_timestamp");
  EXPECT_EQ(reason_name(LineProblem::bad_number), "bad_number");
  EXPECT_EQ(reason_name(LineProblem::negative_value), "negative_value");
  EXPECT_EQ(kBadRecord, "bad_record");
}

TEST(DelotonLogLine, EveryRealSampleLineHasAKnownKind) {
  const auto landing = sample_landing();
  if (landing.empty()) GTEST_SKIP() << "no ../shared/data/deloton/landing";
  LogRecordParser parser;
  std::string text;
  std::map<LineKind, int> kinds;
  int files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(landing)) {
    if (entry.path().extension() != ".ndjson") continue;
    ++files;
    std::ifstream in(entry.path(), std::ios::binary);
    std::string ndjson;
    for (int number = 1; std::getline(in, ndjson); ++number) {
      SCOPED_TRACE(entry.path().filename().string() + ":" + std::to_string(number));
      const std::size_t length = ndjson.size();
      ndjson.append(simdjson::SIMDJSON_PADDING, '\0');
      ASSERT_TRUE(parser.parse(ndjson.data(), length, ndjson.size(), text));
      LogLine line;
      ASSERT_EQ(parse_log_line(text, line), LineProblem::none) << text;
      ++kinds[line.kind];
      if (line.kind != LineKind::marker || line.timestamp_us != kNoTimestamp) {
        EXPECT_EQ(line.bike, "mendoza v9");
        EXPECT_GT(line.timestamp_us, 1640995200000000);  // all in 2022
      }
    }
  }
  EXPECT_EQ(files, 13);
  EXPECT_GT(kinds[LineKind::marker], 0);
  EXPECT_GT(kinds[LineKind::ride_start], 0);
  EXPECT_GT(kinds[LineKind::ride], 0);
  EXPECT_GT(kinds[LineKind::telemetry], 0);
  EXPECT_EQ(kinds[LineKind::marker] + kinds[LineKind::ride_start] + kinds[LineKind::ride] + kinds[LineKind::telemetry],
            2377);
}

// ---------------------------------------------------------------------------------------------------
// Timestamps and the calendar

TEST(DelotonTimestamp, ValidTimestamps) {
  const struct {
    std::string_view text;
    std::int64_t micros;
  } cases[] = {
      {"1970-01-01 00:00:00", 0},
      {"1970-01-01 00:00:00.5", 500000},
      {"1970-01-01 00:00:00.05", 50000},
      {"1970-01-01 00:00:00.123", 123000},
      {"1970-01-01 00:00:00.1234", 123400},
      {"1970-01-01 00:00:00.12345", 123450},
      {"1970-01-01 00:00:00.000001", 1},
      {"1970-01-01 00:00:00.000000", 0},
      {"1969-12-31 23:59:59.999999", -1},
      {"1969-12-31 23:59:59", -1000000},
      {"2022-11-03 18:42:00.422392", 1667500920422392},
      {"2020-02-29 12:00:00", 1582977600000000},
      {"9999-12-31 23:59:59.999999", 253402300799999999},
      {"0001-01-01 00:00:00", -62135596800000000},
      {"1943-04-26 00:00:00", -842140800000000},
  };
  for (const auto& c : cases) {
    std::int64_t micros = 42;
    ASSERT_TRUE(parse_timestamp(c.text, micros)) << c.text;
    EXPECT_EQ(micros, c.micros) << c.text;
  }
}

TEST(DelotonTimestamp, InvalidTimestamps) {
  for (const std::string_view text : {"",
                                      "2022-11-03",
                                      "2022-11-03 18:42",
                                      "2022-11-03 18:42:00.",
                                      "2022-11-03 18:42:00.1234567",
                                      "2022-11-03 18:42:00,5",
                                      "2022-11-03 18:42:00 ",
                                      " 2022-11-03 18:42:00",
                                      "2022-11-03T18:42:00",
                                      "2022-11-03 18:42:00Z",
                                      "2022-11-03 18:42:00+00:00",
                                      "2022/11/03 18:42:00",
                                      "2022-11-03 18.42.00",
                                      "2022-1-03 18:42:00",
                                      "2022-11-3 18:42:00",
                                      "22-11-03 18:42:00",
                                      "+2022-11-03 18:42:0",
                                      "2022-11-03 8:42:00",
                                      "20221-11-03 18:42:00",
                                      "2022-11-03  18:42:00",
                                      "2021-02-29 00:00:00",
                                      "1900-02-29 00:00:00",
                                      "2100-02-29 00:00:00",
                                      "2022-04-31 00:00:00",
                                      "2022-06-31 00:00:00",
                                      "2022-09-31 00:00:00",
                                      "2022-11-31 00:00:00",
                                      "2022-01-32 00:00:00",
                                      "2022-13-01 00:00:00",
                                      "2022-00-10 00:00:00",
                                      "2022-01-00 00:00:00",
                                      "0000-01-01 00:00:00",
                                      "0000-12-31 23:59:59",
                                      "2022-11-03 24:00:00",
                                      "2022-11-03 23:60:00",
                                      "2022-11-03 23:59:60",
                                      "2022-11-03 23:59:61",
                                      "2022-11-03 -1:00:00",
                                      "2022-11-03 18:42:00.12a",
                                      "2022-11-03 18:42:00.-1",
                                      "2022-11-03 18:42:00.+1",
                                      "２０２２-11-03 18:42:00",
                                      "2022-11-03 18:42:0a",
                                      "abcd-ef-gh ij:kl:mn"}) {
    std::int64_t micros = 42;
    EXPECT_FALSE(parse_timestamp(text, micros)) << text;
    EXPECT_EQ(micros, 42) << text;
  }
}

TEST(DelotonTimestamp, LeapYearsAndMonthEnds) {
  std::int64_t micros = 0;
  for (const std::string_view text :
       {"2000-02-29 00:00:00", "2020-02-29 00:00:00", "1600-02-29 00:00:00", "0004-02-29 00:00:00",
        "2400-02-29 00:00:00", "2022-01-31 00:00:00", "2022-03-31 00:00:00", "2022-04-30 00:00:00",
        "2022-12-31 00:00:00", "2021-02-28 23:59:59.999999"}) {
    EXPECT_TRUE(parse_timestamp(text, micros)) << text;
  }
}

TEST(DelotonCalendar, DaysAndCivilDatesRoundTrip) {
  EXPECT_EQ(days_from_civil(1970, 1, 1), 0);
  EXPECT_EQ(days_from_civil(1969, 12, 31), -1);
  EXPECT_EQ(days_from_civil(2000, 2, 29), 11016);
  EXPECT_EQ(days_from_civil(1, 1, 1), -719162);
  EXPECT_EQ(days_from_civil(9999, 12, 31), 2932896);
  EXPECT_EQ(days_from_civil(1600, 3, 1), -135080);
  EXPECT_EQ(days_from_civil(2400, 2, 29), 157113);
  EXPECT_EQ(civil_from_days(11016), (CivilDate{2000, 2, 29}));
  EXPECT_EQ(civil_from_days(-1), (CivilDate{1969, 12, 31}));
  EXPECT_EQ(civil_from_days(-719162), (CivilDate{1, 1, 1}));
  EXPECT_EQ(civil_from_days(-719163), (CivilDate{0, 12, 31}));
  // Every day from year -1 to 2401 and back, with consecutive dates one day apart.
  CivilDate previous = civil_from_days(days_from_civil(-1, 1, 1) - 1);
  for (std::int64_t day = days_from_civil(-1, 1, 1); day <= days_from_civil(2401, 12, 31); ++day) {
    const CivilDate date = civil_from_days(day);
    ASSERT_EQ(days_from_civil(date.year, date.month, date.day), day);
    ASSERT_GE(date.month, 1u);
    ASSERT_LE(date.month, 12u);
    ASSERT_GE(date.day, 1u);
    ASSERT_LE(date.day, days_in_month(date.year, date.month));
    const bool next_day = date.year == previous.year && date.month == previous.month && date.day == previous.day + 1;
    const bool next_month = date.year == previous.year && date.month == previous.month + 1 && date.day == 1 &&
                            previous.day == days_in_month(previous.year, previous.month);
    const bool next_year = date.year == previous.year + 1 && date.month == 1 && date.day == 1 && previous.month == 12 &&
                           previous.day == 31;
    ASSERT_TRUE(next_day || next_month || next_year) << day;
    previous = date;
  }
}

TEST(DelotonCalendar, FormatDate) {
  EXPECT_EQ(format_date(0), "1970-01-01");
  EXPECT_EQ(format_date(-1), "1969-12-31");
  EXPECT_EQ(format_date(11016), "2000-02-29");
  EXPECT_EQ(format_date(-719162), "0001-01-01");
  EXPECT_EQ(format_date(2932896), "9999-12-31");
  EXPECT_EQ(format_date(days_from_civil(999, 5, 7)), "0999-05-07");
  EXPECT_EQ(format_date(-719163), "0000-12-31");
  EXPECT_EQ(format_date(days_from_civil(-5, 1, 2)), "-0005-01-02");
  EXPECT_EQ(format_date(days_from_civil(12345, 6, 7)), "12345-06-07");
  EXPECT_EQ(format_date(days_from_epoch_ms(273715200000)), "1978-09-04");   // Steven Pearce
  EXPECT_EQ(format_date(days_from_epoch_ms(-842140800000)), "1943-04-26");  // Charlene Brown
  EXPECT_EQ(format_date(days_from_epoch_ms(-336700800000)), "1959-05-02");  // Wayne Fitzgerald
  EXPECT_EQ(format_date(days_from_epoch_ms(-1)), "1969-12-31");             // floor division
  EXPECT_EQ(format_date(days_from_epoch_us(1667500920422392)), "2022-11-03");
  // The extremes of epoch ms do not overflow.
  EXPECT_FALSE(format_date(days_from_epoch_ms(std::numeric_limits<std::int64_t>::max())).empty());
  EXPECT_FALSE(format_date(days_from_epoch_ms(std::numeric_limits<std::int64_t>::min())).empty());
}

TEST(DelotonCalendar, DatesOfBirthOutsideYears1To9999AreNull) {
  constexpr std::int64_t kNull = std::numeric_limits<std::int64_t>::min();
  EXPECT_EQ(date_days_in_range(273715200000), 3168);        // 1978-09-04 (user 100 of the samples)
  EXPECT_EQ(date_days_in_range(-336700800000), -3897);      // 1959-05-02 (user 815)
  EXPECT_EQ(date_days_in_range(-1), -1);                    // 1969-12-31: floor division
  EXPECT_EQ(date_days_in_range(-62135596800000), -719162);  // 0001-01-01
  EXPECT_EQ(date_days_in_range(-62135596800001), kNull);    // 0000-12-31
  EXPECT_EQ(date_days_in_range(253402300799999), 2932896);  // 9999-12-31, last ms
  EXPECT_EQ(date_days_in_range(253402300800000), kNull);    // 10000-01-01
  EXPECT_EQ(date_days_in_range(kNull), kNull);
}

TEST(DelotonCalendar, FloorDivision) {
  EXPECT_EQ(floor_div(7, 2), 3);
  EXPECT_EQ(floor_div(-7, 2), -4);
  EXPECT_EQ(floor_div(-8, 2), -4);
  EXPECT_EQ(floor_div(0, 5), 0);
  EXPECT_EQ(floor_div(-1, 86400000), -1);
  EXPECT_EQ(floor_div(std::numeric_limits<std::int64_t>::min(), 10), -922337203685477581);
}

// The fast paths of parse_json_number and parse_log_integer give from_chars's values bit for bit
// (and its verdicts), on random decimals of 1-17 digits and on hand-picked edges.
TEST(DelotonNumbers, FastPathsEqualFromChars) {
  std::mt19937_64 random(21);
  std::vector<std::string> texts = {"0",
                                    "-0",
                                    "0.0",
                                    "-0.0",
                                    "00",
                                    "01",
                                    "1.",
                                    ".5",
                                    "-",
                                    "",
                                    "1e5",
                                    "1.5e3",
                                    "+1",
                                    "1 ",
                                    "0.1",
                                    "0.3",
                                    "9007199254740993",
                                    "999999999999999",
                                    "99999999999999.9",
                                    "0.000000000000001",
                                    "123456789012345678",
                                    "-123456789012345678",
                                    "1234567890123456789",
                                    "9223372036854775807",
                                    "-9223372036854775808",
                                    "9223372036854775808",
                                    "007",
                                    "-007",
                                    "1a",
                                    "a1",
                                    "1-",
                                    "--1"};
  for (int i = 0; i < 20000; ++i) {
    const int integer_digits = 1 + static_cast<int>(random() % 10), fraction_digits = static_cast<int>(random() % 9);
    std::string text = random() % 4 == 0 ? "-" : "";
    for (int d = 0; d < integer_digits; ++d) text += static_cast<char>('0' + random() % 10);
    if (fraction_digits > 0) text += '.';
    for (int d = 0; d < fraction_digits; ++d) text += static_cast<char>('0' + random() % 10);
    texts.push_back(text);
  }
  for (const std::string& text : texts) {
    double fast = 0, slow = 0;
    const bool fast_ok = parse_json_number(text, fast);
    const bool grammar = is_json_number(text);
    const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), slow);
    const bool slow_ok = grammar && error == std::errc() && end == text.data() + text.size();
    ASSERT_EQ(fast_ok, slow_ok) << text;
    if (slow_ok) {
      ASSERT_EQ(std::memcmp(&fast, &slow, sizeof fast), 0) << text;
    }
    std::int64_t fast_int = 0, slow_int = 0;
    const bool fast_int_ok = parse_log_integer(text, fast_int);
    const auto [int_end, int_error] = std::from_chars(text.data(), text.data() + text.size(), slow_int);
    const bool slow_int_ok = !text.empty() && int_error == std::errc() && int_end == text.data() + text.size();
    ASSERT_EQ(fast_int_ok, slow_int_ok) << text;
    if (slow_int_ok) {
      ASSERT_EQ(fast_int, slow_int) << text;
    }
  }
}

// A cache kept across timestamps gives what a fresh parse gives, valid or not, in any order.
TEST(DelotonTimestamp, CacheGivesTheSameResults) {
  const std::vector<std::string> texts = {
      "2022-10-03 00:00:00.159126",  "2022-10-03 00:00:01",   "2022-10-03 00:59:59.9", "2022-10-03 01:00:00",
      "2022-10-03 00:60:00",         "2022-10-03 00:00:60",   "2022-10-03 00:0a:00",   "2022-10-03 00:00:00.",
      "2022-10-03 00:00:00.1234567", "2022-10-03 00-00:00",   "2022-10-03 00:00-00",   "2022-02-29 10:00:00",
      "2024-02-29 10:00:00",         "2024-02-29 10:00:01",   "2022-10-03 24:00:00",   "0000-01-01 00:00:00",
      "2022-10-03T00:00:00",         "2022-10-03 00:00:00.5", "2022-10-03 00:00:00x5", "2022-10-03 00:00:00.15a"};
  TimestampCache cache;
  for (int round = 0; round < 3; ++round) {
    for (const std::string& text : texts) {
      std::int64_t fresh = -1, cached = -1;
      const bool fresh_ok = parse_timestamp(text, fresh);
      const bool cached_ok = parse_timestamp(text, cached, cache);
      ASSERT_EQ(fresh_ok, cached_ok) << text;
      ASSERT_EQ(fresh, cached) << text;
    }
  }
}

TEST(DelotonNumbers, Grammar) {
  for (const std::string_view ok : {"0", "-0", "1", "-1", "10", "1.5", "-0.0", "0.001", "1e5", "1E5", "1e+5", "1e-5",
                                    "1.5e10", "123456789012345678901234567890", "1e400"}) {
    EXPECT_TRUE(is_json_number(ok)) << ok;
  }
  for (const std::string_view bad :
       {"", "-", "+1", "01", "-01", "00", "1.", ".1", "1e", "1e+", "1.e5", "1 ", " 1", "0x1", "NaN", "inf", "1e5.0"}) {
    EXPECT_FALSE(is_json_number(bad)) << bad;
  }
  EXPECT_TRUE(is_json_integer("0"));
  EXPECT_TRUE(is_json_integer("-0"));
  EXPECT_TRUE(is_json_integer("170"));
  EXPECT_FALSE(is_json_integer("170.0"));
  EXPECT_FALSE(is_json_integer("1e2"));
  EXPECT_FALSE(is_json_integer("007"));
  EXPECT_FALSE(is_json_integer("-"));
  EXPECT_FALSE(is_json_integer(""));
  double value = 0;
  EXPECT_TRUE(parse_json_number("2e-324", value));  // rounds to zero
  EXPECT_EQ(value, 0.0);
  EXPECT_TRUE(parse_json_number("3e-324", value));  // rounds to the smallest subnormal
  EXPECT_EQ(value, std::numeric_limits<double>::denorm_min());
  EXPECT_TRUE(parse_json_number("-1e-99999999999999999999", value));
  EXPECT_TRUE(std::signbit(value));
  EXPECT_TRUE(parse_json_number("0e99999999999999999999", value));
  EXPECT_EQ(value, 0.0);
  EXPECT_FALSE(parse_json_number("1e99999999999999999999", value));
  EXPECT_FALSE(parse_json_number("0.0000001e316", value));  // 1e309
  EXPECT_TRUE(parse_json_number("0.00001e-320", value));    // 1e-325
  EXPECT_EQ(value, 0.0);
  std::int64_t integer = 0;
  EXPECT_TRUE(parse_log_integer("-9223372036854775808", integer));
  EXPECT_EQ(integer, std::numeric_limits<std::int64_t>::min());
  EXPECT_FALSE(parse_log_integer("9223372036854775808", integer));
}

}  // namespace
}  // namespace mpilake::deloton
