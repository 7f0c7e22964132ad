// Field normalisation and quarantine reasons of the record parser (DESIGN.md "Normalise").
#include "mpilake/json/record_parser.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include "mpilake/stedi/schema.hpp"
#include "mpilake/table/row_codec.hpp"

namespace mpilake {
namespace {

struct Parsed {
  LineOutcome outcome;
  std::string reason;
  Table table;
};

Parsed parse_line(const RecordSchema& schema, const std::string& line) {
  RecordParser parser(schema);
  Parsed result{LineOutcome::Blank, {}, Table(schema.table_schema())};
  std::string padded = line + std::string(simdjson::SIMDJSON_PADDING, '\0');
  result.outcome = parser.parse(padded.data(), line.size(), padded.size(), result.table, result.reason);
  return result;
}

const RecordSchema kCustomer = stedi::customer_schema();
const RecordSchema kAccelerometer = stedi::accelerometer_schema();
const RecordSchema kSteps = stedi::step_trainer_schema();
using namespace stedi;

TEST(RecordParser, NullMissingAndEmptyStringAllMeanNull) {
  const auto parsed = parse_line(kCustomer, R"({"email":"a@b.c","serialNumber":"s1","customerName":null,"phone":"",)"
                                            R"("registrationDate":null,"lastUpdateDate":""})");
  ASSERT_EQ(parsed.outcome, LineOutcome::Accepted) << parsed.reason;
  EXPECT_EQ(parsed.table.strings(customer::kCustomerName)[0], "");
  EXPECT_EQ(parsed.table.strings(customer::kPhone)[0], "");
  EXPECT_EQ(parsed.table.strings(customer::kBirthDay)[0], "");  // missing
  EXPECT_EQ(parsed.table.ints(customer::kRegistrationDate)[0], kNullInt64);
  EXPECT_EQ(parsed.table.ints(customer::kLastUpdateDate)[0], kNullInt64);
  EXPECT_EQ(parsed.table.ints(customer::kShareWithResearchAsOfDate)[0], kNullInt64);  // missing
}

TEST(RecordParser, IntegerFieldsAcceptIntegralFloatsAndDecimalStrings) {
  const auto parsed =
      parse_line(kCustomer, R"({"email":"a","serialNumber":"s","registrationDate":1655564376361.0,)"
                            R"("lastUpdateDate":"1655564376362","shareWithResearchAsOfDate":1655564376363,)"
                            R"("shareWithPublicAsOfDate":1.655564376364e12,"shareWithFriendsAsOfDate":"-5"})");
  ASSERT_EQ(parsed.outcome, LineOutcome::Accepted) << parsed.reason;
  EXPECT_EQ(parsed.table.ints(customer::kRegistrationDate)[0], 1655564376361);
  EXPECT_EQ(parsed.table.ints(customer::kLastUpdateDate)[0], 1655564376362);
  EXPECT_EQ(parsed.table.ints(customer::kShareWithResearchAsOfDate)[0], 1655564376363);
  EXPECT_EQ(parsed.table.ints(customer::kShareWithPublicAsOfDate)[0], 1655564376364);
  EXPECT_EQ(parsed.table.ints(customer::kShareWithFriendsAsOfDate)[0], -5);
}

TEST(RecordParser, PhoneNumberBecomesItsDecimalString) {
  const auto parsed = parse_line(kCustomer, R"({"phone":8015551212,"email":"a","serialNumber":"s"})");
  ASSERT_EQ(parsed.outcome, LineOutcome::Accepted) << parsed.reason;
  EXPECT_EQ(parsed.table.strings(customer::kPhone)[0], "8015551212");
}

TEST(RecordParser, TimestampSpellingsExtraKeysAndCrlf) {
  const auto parsed = parse_line(
      kAccelerometer, "{\"z\":3,\"extra\":{\"nested\":[1,2]},\"timeStamp\":12,\"user\":\"u\",\"x\":1.5,\"y\":-2}\r");
  ASSERT_EQ(parsed.outcome, LineOutcome::Accepted) << parsed.reason;
  EXPECT_EQ(parsed.table.ints(accelerometer::kTimestamp)[0], 12);
  EXPECT_EQ(parsed.table.strings(accelerometer::kUser)[0], "u");
  EXPECT_DOUBLE_EQ(parsed.table.floats(accelerometer::kX)[0], 1.5);
  EXPECT_DOUBLE_EQ(parsed.table.floats(accelerometer::kY)[0], -2.0);
  EXPECT_DOUBLE_EQ(parsed.table.floats(accelerometer::kZ)[0], 3.0);
}

TEST(RecordParser, FloatFieldsTakeAnyNumberAndPhoneOnlyInt64Integers) {
  const auto big =
      parse_line(kAccelerometer, R"({"user":"u","timestamp":1,"x":1000000000000000000000000000000,"y":0,"z":0})");
  ASSERT_EQ(big.outcome, LineOutcome::Accepted) << big.reason;
  EXPECT_DOUBLE_EQ(big.table.floats(accelerometer::kX)[0], 1e30);
  EXPECT_EQ(parse_line(kCustomer, R"({"email":"a","serialNumber":"s","phone":18446744073709551615})").outcome,
            LineOutcome::Rejected);
  const auto integral = parse_line(kCustomer, R"({"email":"a","serialNumber":"s","phone":8015551212.0})");
  ASSERT_EQ(integral.outcome, LineOutcome::Accepted) << integral.reason;
  EXPECT_EQ(integral.table.strings(customer::kPhone)[0], "8015551212");
}

TEST(RecordParser, LongIntegralDecimalsKeepTheirValue) {
  // simdjson 3.0.1's get_number() reads these as 0; the parser must not.
  const auto parsed =
      parse_line(kCustomer, R"({"email":"a","serialNumber":"s","registrationDate":1655564376361.000000,)"
                            R"("phone":8015550199.000000000})");
  ASSERT_EQ(parsed.outcome, LineOutcome::Accepted) << parsed.reason;
  EXPECT_EQ(parsed.table.ints(customer::kRegistrationDate)[0], 1655564376361);
  EXPECT_EQ(parsed.table.strings(customer::kPhone)[0], "8015550199");
  EXPECT_EQ(
      parse_line(kSteps, R"({"sensorReadingTime":9223372036854775808.0,"serialNumber":"s","distanceFromObject":1})")
          .outcome,
      LineOutcome::Rejected);
}

TEST(RecordParser, DeepNestingInAnUnknownKeyIsQuarantinedNotACrash) {
  for (int depth : {50, 5000, 200000}) {
    const std::string line = R"({"sensorReadingTime":1,"serialNumber":"s","distanceFromObject":1,"deep":)" +
                             std::string(depth, '[') + "1" + std::string(depth, ']') + "}";
    const auto parsed = parse_line(kSteps, line);
    EXPECT_EQ(parsed.outcome, depth <= 1000 ? LineOutcome::Accepted : LineOutcome::Rejected) << depth;
  }
}

TEST(RecordParser, BlankLinesAreSkipped) {
  EXPECT_EQ(parse_line(kSteps, "").outcome, LineOutcome::Blank);
  EXPECT_EQ(parse_line(kSteps, "  \t\r").outcome, LineOutcome::Blank);
}

TEST(RecordParser, BadLinesAreRejectedWithAReason) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {R"({"sensorReadingTime":1,"serialNumber":"s")", "invalid JSON"},
      {R"([1,2,3])", "not a JSON object"},
      {R"(42)", "not a JSON object"},
      {R"({"serialNumber":"s","distanceFromObject":1})", "missing required field 'sensorReadingTime'"},
      {R"({"sensorReadingTime":1,"serialNumber":null,"distanceFromObject":1})",
       "missing required field 'serialNumber'"},
      {R"({"sensorReadingTime":1,"serialNumber":"","distanceFromObject":1})", "missing required field 'serialNumber'"},
      {R"({"sensorReadingTime":1.5,"serialNumber":"s","distanceFromObject":1})", "not an integer"},
      {R"({"sensorReadingTime":"12a","serialNumber":"s","distanceFromObject":1})", "not a decimal integer"},
      {R"({"sensorReadingTime":true,"serialNumber":"s","distanceFromObject":1})", "is a boolean, expected an integer"},
      {R"({"sensorReadingTime":1,"serialNumber":7,"distanceFromObject":1})", "is a number, expected a string"},
      {R"({"sensorReadingTime":1,"serialNumber":"s","distanceFromObject":[1]})", "is an array"},
      {R"({"sensorReadingTime":99999999999999999999,"serialNumber":"s","distanceFromObject":1})", "out of"},
      {R"({"sensorReadingTime":1,"serialNumber":"s","distanceFromObject":1} {"x":1})", "trailing content"},
      {R"({"sensorReadingTime":1,"sensorReadingTime":2,"serialNumber":"s","distanceFromObject":1})", "duplicate key"},
      {R"({"sensorReadingTime":1,"serialNumber":"a\u0000b","distanceFromObject":1})", "NUL character"},
      {"{\"sensorReadingTime\":1,\"serialNumber\":\"\xff\xfe\",\"distanceFromObject\":1}", "invalid JSON"},
      {R"({"junk":tru,"sensorReadingTime":1,"serialNumber":"s","distanceFromObject":1})", "invalid JSON"},
      {R"({"sensorReadingTime":1,"serialNumber":"s","distanceFromObject":1,"junk":[1,,2]})", "invalid JSON"},
      {R"({"sensorReadingTime":1,"serialNumber":"s","distanceFromObject":1,"junk":{"a" 1}})", "invalid JSON"},
      {R"({"sensorReadingTime":1,"serialNumber":"s","distanceFromObject":1,"junk":01})", "invalid JSON"},
      {R"({"sensorReadingTime":1,"serialNumber":"s","distanceFromObject":1,"junk":nul})", "invalid JSON"},
      {R"({"junk":nulx,"sensorReadingTime":1,"serialNumber":"s","distanceFromObject":1})", "invalid JSON"},
  };
  for (const auto& [line, expected_reason] : cases) {
    const auto parsed = parse_line(kSteps, line);
    EXPECT_EQ(parsed.outcome, LineOutcome::Rejected) << line;
    EXPECT_NE(parsed.reason.find(expected_reason), std::string::npos) << line << " -> " << parsed.reason;
    EXPECT_EQ(parsed.table.num_rows(), 0u) << line;
  }
  EXPECT_EQ(parse_line(kAccelerometer, R"({"user":"u","timestamp":1,"x":"1.0","y":0,"z":0})").outcome,
            LineOutcome::Rejected);
}

// One parser for all lines (as the pipeline uses it), every line into one table.
struct ParsedLines {
  std::vector<LineOutcome> outcomes;
  std::vector<std::string> reasons;
  Table table;
};

ParsedLines parse_lines(const RecordSchema& schema, const std::vector<std::string>& lines) {
  RecordParser parser(schema);
  ParsedLines result{{}, {}, Table(schema.table_schema())};
  for (const std::string& line : lines) {
    std::string padded = line + std::string(simdjson::SIMDJSON_PADDING, '\0');
    std::string reason;
    result.outcomes.push_back(parser.parse(padded.data(), line.size(), padded.size(), result.table, reason));
    result.reasons.push_back(reason);
  }
  return result;
}

std::string reason_of(const RecordSchema& schema, const std::string& line) {
  const auto parsed = parse_line(schema, line);
  EXPECT_EQ(parsed.outcome, LineOutcome::Rejected) << line;
  EXPECT_EQ(parsed.table.num_rows(), 0u) << line;
  return parsed.reason;
}

TEST(RecordParser, EscapedKeysMatchTheirField) {
  const auto parsed = parse_line(kCustomer, R"({"em\u0061il":"a@b.c","serial\u004eumber":"s1","\u0070hone":7})");
  ASSERT_EQ(parsed.outcome, LineOutcome::Accepted) << parsed.reason;
  EXPECT_EQ(parsed.table.strings(customer::kEmail)[0], "a@b.c");
  EXPECT_EQ(parsed.table.strings(customer::kSerialNumber)[0], "s1");
  EXPECT_EQ(parsed.table.strings(customer::kPhone)[0], "7");
  EXPECT_EQ(reason_of(kCustomer, R"({"email":"a","em\u0061il":"b","serialNumber":"s"})"),
            "duplicate key for field 'email'");
  EXPECT_EQ(reason_of(kCustomer, R"({"em\u0061il":"a","email":"b","serialNumber":"s"})"),
            "duplicate key for field 'email'");
  // A key with an escaped quote or backslash is another key, however it starts.
  const auto other =
      parse_line(kAccelerometer, R"({"user\"":"v","us\\er":"w","user":"u","timestamp":1,"x":1,"y":2,"z":3})");
  ASSERT_EQ(other.outcome, LineOutcome::Accepted) << other.reason;
  EXPECT_EQ(other.table.strings(accelerometer::kUser)[0], "u");
  EXPECT_NE(reason_of(kAccelerometer, R"({"us\er":"u","timestamp":1,"x":1,"y":2,"z":3})").find("invalid JSON ("),
            std::string::npos);
}

TEST(RecordParser, KeysThatOnlyStartLikeAFieldAreUnknown) {
  const auto parsed = parse_line(kAccelerometer, R"({"users":"v","use":"w","user":"u","timestampX":5,"timestamp":1,)"
                                                 R"("":0,"xx":9,"x":1,"y":2,"z":3})");
  ASSERT_EQ(parsed.outcome, LineOutcome::Accepted) << parsed.reason;
  EXPECT_EQ(parsed.table.strings(accelerometer::kUser)[0], "u");
  EXPECT_EQ(parsed.table.ints(accelerometer::kTimestamp)[0], 1);
  EXPECT_DOUBLE_EQ(parsed.table.floats(accelerometer::kX)[0], 1.0);
  EXPECT_EQ(reason_of(kAccelerometer, R"({"users":"v","timestamp":1,"x":1,"y":2,"z":3})"),
            "missing required field 'user'");
}

TEST(RecordParser, AliasesAndKeyOrderChangingFromLineToLine) {
  const auto parsed =
      parse_lines(kAccelerometer,
                  {R"({"user":"a","timestamp":1,"x":1,"y":2,"z":3})", R"({"user":"b","timeStamp":2,"x":4,"y":5,"z":6})",
                   R"({"z":9,"y":8,"x":7,"timestamp":3,"user":"c"})",
                   R"({"user":"d","meta":{"k":[1]},"timestamp":4,"note":null,"x":10,"y":11,"z":12})",
                   R"({"user":"e","timestamp":5,"timeStamp":6,"x":1,"y":2,"z":3})",
                   R"({"user":"f","timeStamp":7,"timestamp":8,"x":1,"y":2,"z":3})",
                   R"({"user":"g","timestamp":9,"x":13,"y":14,"z":15})"});
  const std::vector<LineOutcome> expected_outcomes = {
      LineOutcome::Accepted, LineOutcome::Accepted, LineOutcome::Accepted, LineOutcome::Accepted,
      LineOutcome::Rejected, LineOutcome::Rejected, LineOutcome::Accepted};
  EXPECT_EQ(parsed.outcomes, expected_outcomes);
  EXPECT_EQ(parsed.reasons[4], "duplicate key for field 'timestamp'");
  EXPECT_EQ(parsed.reasons[5], "duplicate key for field 'timestamp'");
  ASSERT_EQ(parsed.table.num_rows(), 5u);
  const std::vector<std::string> users = {"a", "b", "c", "d", "g"};
  const std::vector<std::int64_t> timestamps = {1, 2, 3, 4, 9};
  const std::vector<double> xs = {1, 4, 7, 10, 13};
  const std::vector<double> zs = {3, 6, 9, 12, 15};
  for (std::size_t row = 0; row < 5; ++row) {
    EXPECT_EQ(parsed.table.strings(accelerometer::kUser)[row], users[row]) << row;
    EXPECT_EQ(parsed.table.ints(accelerometer::kTimestamp)[row], timestamps[row]) << row;
    EXPECT_DOUBLE_EQ(parsed.table.floats(accelerometer::kX)[row], xs[row]) << row;
    EXPECT_DOUBLE_EQ(parsed.table.floats(accelerometer::kZ)[row], zs[row]) << row;
  }
}

TEST(RecordParser, ValuesOfTheWrongTypeKeepTheirReasons) {
  EXPECT_EQ(reason_of(kSteps, R"({"sensorReadingTime":1,"serialNumber":7,"distanceFromObject":1})"),
            "field 'serialNumber' is a number, expected a string");
  EXPECT_EQ(reason_of(kSteps, R"({"sensorReadingTime":1,"serialNumber":true,"distanceFromObject":1})"),
            "field 'serialNumber' is a boolean, expected a string");
  EXPECT_EQ(reason_of(kSteps, R"({"sensorReadingTime":1,"serialNumber":{},"distanceFromObject":1})"),
            "field 'serialNumber' is an object, expected a string");
  EXPECT_EQ(reason_of(kSteps, R"({"sensorReadingTime":false,"serialNumber":"s","distanceFromObject":1})"),
            "field 'sensorReadingTime' is a boolean, expected an integer");
  EXPECT_EQ(reason_of(kSteps, R"({"sensorReadingTime":1,"serialNumber":"s","distanceFromObject":"1.5"})"),
            "field 'distanceFromObject' is a string that is not a decimal integer");
  EXPECT_EQ(reason_of(kSteps, R"({"sensorReadingTime":1.5,"serialNumber":"s","distanceFromObject":1})"),
            "field 'sensorReadingTime' is not an integer (or out of the int64 range)");
  EXPECT_EQ(reason_of(kSteps, R"({"sensorReadingTime":9223372036854775808,"serialNumber":"s","distanceFromObject":1})"),
            "field 'sensorReadingTime' is an integer out of the int64 range");
  EXPECT_EQ(reason_of(kSteps, R"({"sensorReadingTime":1,"serialNumber":"s","distanceFromObject":01})"),
            "field 'distanceFromObject' is an integer out of the int64 range (Problem while parsing a number)");
  EXPECT_EQ(reason_of(kAccelerometer, R"({"user":"u","timestamp":1,"x":"1.0","y":0,"z":0})"),
            "field 'x' is a string, expected a number");
  EXPECT_EQ(reason_of(kAccelerometer, R"({"user":"u","timestamp":1,"x":[1],"y":0,"z":0})"),
            "field 'x' is an array, expected a number");
  EXPECT_EQ(reason_of(kAccelerometer, R"({"user":"u","timestamp":1,"x":1e999,"y":0,"z":0})"),
            "field 'x' is a number out of range (Problem while parsing a number)");
  EXPECT_EQ(reason_of(kAccelerometer, R"({"user":"a\qb","timestamp":1,"x":1,"y":0,"z":0})"),
            "invalid JSON (Problem while parsing a string)");
  EXPECT_EQ(reason_of(kAccelerometer, R"({"user":"u","timestamp":"","x":1,"y":0,"z":0})"),
            "missing required field 'timestamp'");
  EXPECT_EQ(reason_of(kSteps, R"({"sensorReadingTime":1,"serialNumber":"a\u0000b","distanceFromObject":1})"),
            "field 'serialNumber' contains a NUL character");
}

TEST(RecordParser, ValuesOfEachTypeReadExactly) {
  const auto steps =
      parse_lines(kSteps, {R"({"sensorReadingTime":-9223372036854775808,"serialNumber":"s","distanceFromObject":0})",
                           R"({"sensorReadingTime":9223372036854775807,"serialNumber":"s\"q","distanceFromObject":-0})",
                           R"({"sensorReadingTime":"42","serialNumber":"\u00e9","distanceFromObject":7.0})"});
  ASSERT_EQ(steps.table.num_rows(), 3u) << steps.reasons[0] << steps.reasons[1] << steps.reasons[2];
  EXPECT_EQ(steps.table.ints(step_trainer::kSensorReadingTime)[0], INT64_MIN);
  EXPECT_EQ(steps.table.ints(step_trainer::kSensorReadingTime)[1], INT64_MAX);
  EXPECT_EQ(steps.table.ints(step_trainer::kSensorReadingTime)[2], 42);
  EXPECT_EQ(steps.table.strings(step_trainer::kSerialNumber)[1], "s\"q");
  EXPECT_EQ(steps.table.strings(step_trainer::kSerialNumber)[2], "\xc3\xa9");
  EXPECT_EQ(steps.table.ints(step_trainer::kDistanceFromObject)[1], 0);
  EXPECT_EQ(steps.table.ints(step_trainer::kDistanceFromObject)[2], 7);

  const auto customers = parse_lines(kCustomer, {R"({"email":"a","serialNumber":"s","phone":-5,"customerName":""})",
                                                 R"({"email":"b","serialNumber":"t","phone":null,"birthDay":"x"})"});
  ASSERT_EQ(customers.table.num_rows(), 2u) << customers.reasons[0] << customers.reasons[1];
  EXPECT_EQ(customers.table.strings(customer::kPhone)[0], "-5");
  EXPECT_EQ(customers.table.strings(customer::kPhone)[1], "");
  EXPECT_EQ(customers.table.strings(customer::kCustomerName)[0], "");
  EXPECT_EQ(customers.table.strings(customer::kBirthDay)[0], "");
  EXPECT_EQ(customers.table.strings(customer::kBirthDay)[1], "x");

  const auto floats = parse_line(kAccelerometer, R"({"user":"u","timestamp":1,"x":-0.296,"y":null,"z":-7})");
  ASSERT_EQ(floats.outcome, LineOutcome::Rejected);  // y is required
  const auto accepted = parse_line(kAccelerometer, R"({"user":"u","timestamp":1,"x":-0.296,"y":1E2,"z":-7})");
  ASSERT_EQ(accepted.outcome, LineOutcome::Accepted) << accepted.reason;
  EXPECT_EQ(accepted.table.floats(accelerometer::kX)[0], -0.296);
  EXPECT_EQ(accepted.table.floats(accelerometer::kY)[0], 100.0);
  EXPECT_EQ(accepted.table.floats(accelerometer::kZ)[0], -7.0);
}

TEST(RecordParser, DecimalIntegerHelpers) {
  std::int64_t value = 0;
  EXPECT_TRUE(parse_decimal_int64("-9223372036854775808", value));
  EXPECT_EQ(value, INT64_MIN);
  EXPECT_FALSE(parse_decimal_int64("9223372036854775808", value));
  EXPECT_FALSE(parse_decimal_int64("+1", value));
  EXPECT_FALSE(parse_decimal_int64("1 ", value));
  EXPECT_TRUE(integral_double_to_int64(-0.0, value));
  EXPECT_FALSE(integral_double_to_int64(9223372036854775808.0, value));
  EXPECT_FALSE(integral_double_to_int64(0.5, value));
}

// parse_run (runs of lines through iterate_many, the rest through parse) against parse() of every
// line: the same rows, and the same rejected lines with the same reasons, on batches mixing clean
// lines with every kind of bad line that could confuse a document stream.
struct BatchOutcome {
  std::vector<std::string> rows;                             // each accepted row's encoding
  std::vector<std::pair<std::size_t, std::string>> rejects;  // line index, reason
  std::int64_t blank = 0;
};

std::string encoded_row(const Table& table, std::size_t row) {
  std::string bytes(encoded_row_size(table, row), '\0');
  encode_row(table, row, bytes.data());
  return bytes;
}

// The lines of `input` in one buffer, as a batch of the line reader: '\n' after each, padding after all.
struct LineBuffer {
  std::string text;
  std::vector<Line> lines;
};
LineBuffer buffer_of(const std::vector<std::string>& input) {
  LineBuffer buffer;
  for (const std::string& line : input) {
    buffer.lines.push_back({static_cast<std::int64_t>(buffer.text.size()), buffer.text.size(), line.size()});
    buffer.text += line;
    buffer.text += '\n';
  }
  buffer.text.append(simdjson::SIMDJSON_PADDING, '\0');
  return buffer;
}

BatchOutcome parse_batch(const RecordSchema& schema, const std::vector<std::string>& input, bool runs) {
  auto [text, lines] = buffer_of(input);
  RecordParser parser(schema);
  Table table(schema.table_schema());
  BatchOutcome outcome;
  std::string reason;
  const auto parse_one = [&](std::size_t i) {
    switch (parser.parse(text.data() + lines[i].start, lines[i].length, text.size() - lines[i].start, table, reason)) {
      case LineOutcome::Blank: ++outcome.blank; break;
      case LineOutcome::Accepted: break;
      case LineOutcome::Rejected: outcome.rejects.emplace_back(i, reason); break;
    }
  };
  if (runs) {
    std::size_t at = 0;
    while (at < lines.size()) {
      const auto run = parser.parse_run(text.data(), std::span<const Line>(lines).subspan(at), table);
      outcome.blank += run.blank;
      EXPECT_LE(run.taken, run.per_line_end);
      EXPECT_GT(run.per_line_end, 0u);
      for (std::size_t i = run.taken; i < run.per_line_end; ++i) parse_one(at + i);
      at += run.per_line_end;
    }
  } else {
    for (std::size_t i = 0; i < lines.size(); ++i) parse_one(i);
  }
  for (std::size_t r = 0; r < table.num_rows(); ++r) outcome.rows.push_back(encoded_row(table, r));
  return outcome;
}

TEST(RecordParser, RunsOfLinesGiveWhatLineByLineGives) {
  const std::vector<std::string> clean = {
      R"({"user":"a@b.c","timestamp":1655564444103,"x":1.0,"y":-1.0,"z":0})",
      R"({"user":"d@e.f","timeStamp":1655564444104.0,"x":0.5,"y":1e2,"z":-0.0,"extra":[1,{"k":null}]})",
      R"(  {"z":1,"y":2,"x":3,"timestamp":"1655564444105","user":"g\u0040h.i"}  )",
      "{\"user\":\"crlf@x.y\",\"timestamp\":1,\"x\":1,\"y\":1,\"z\":1}\r",
      "",
      "   ",
      "\t\r",
  };
  const std::vector<std::string> bad = {
      R"({"user":"a@b.c","timestamp":1655564444103,"x":1.0,"y")",  // cut
      R"({"user":"unclosed,"timestamp":1,"x":1,"y":1,"z":1})",
      R"({"user":"a","timestamp":1,"x":1,"y":1,"z":1} {"user":"b","timestamp":2,"x":1,"y":1,"z":1})",
      R"({"user":"a","timestamp":1,"x":1,"y":1,"z":1} x)",
      R"({"user":"a","timestamp":1,"x":1,"y":1,"z":1}])",
      R"({"user":"a","timestamp":1,"x":1,"y":1,"z":1}})",
      R"({"user":"a","timestamp":1,"x":1,"y":1,"z":1},)",
      R"([{"user":"a","timestamp":1,"x":1,"y":1,"z":1}])",
      "5",
      "\"just a string\"",
      "null",
      "{",
      "}",
      "]",
      "\"",
      "\"}",
      "{\"user\":\"",
      R"({"user":"a","timestamp":1,"x":1,"y":1})",                                  // missing z
      R"({"user":"a","timestamp":1,"x":1,"y":1,"z":1,"z":2})",                      // duplicate key
      R"({"user":"a","timestamp":"soon","x":1,"y":1,"z":1})",                       // wrong type
      R"({"user":"a","timestamp":1,"x":1,"y":1,"z":1,"k":tru})",                    // bad literal in an unread key
      std::string("{\"user\":\"a\xff\",\"timestamp\":1,\"x\":1,\"y\":1,\"z\":1}"),  // invalid UTF-8
      std::string(R"({"user":"a","timestamp":1,"x":1,"y":1,"z":1})") + std::string(1, '\0'),  // NUL after
      std::string("{\"user\":\"a\",\"timestamp\":1,\"x\":1,\"y\":1,\"z\":1}\f"),              // not whitespace
      R"({"user":"a","timestamp":1,"x":1,"y":1,"z":1,"deep":)" + std::string(1100, '[') + std::string(1100, ']') + "}",
  };
  std::mt19937 random(5);
  for (int trial = 0; trial < 300; ++trial) {
    std::vector<std::string> input;
    const int count = 1 + static_cast<int>(random() % 400);
    const int bad_every = 1 + static_cast<int>(random() % 60);
    for (int i = 0; i < count; ++i) {
      if (random() % static_cast<unsigned>(bad_every) == 0)
        input.push_back(bad[random() % bad.size()]);
      else
        input.push_back(clean[random() % clean.size()]);
    }
    const BatchOutcome expected = parse_batch(kAccelerometer, input, false);
    const BatchOutcome got = parse_batch(kAccelerometer, input, true);
    ASSERT_EQ(got.rows, expected.rows) << "trial " << trial;
    ASSERT_EQ(got.rejects, expected.rejects) << "trial " << trial;
    ASSERT_EQ(got.blank, expected.blank) << "trial " << trial;
  }
}

TEST(RecordParser, RunsOfCleanLinesAreTakenWhole) {
  std::vector<std::string> input(50, R"({"sensorReadingTime":1,"serialNumber":"s","distanceFromObject":2})");
  input[10] = "";
  std::string text;
  std::vector<Line> lines;
  for (const std::string& line : input) {
    lines.push_back({static_cast<std::int64_t>(text.size()), text.size(), line.size()});
    text += line + "\n";
  }
  text.append(simdjson::SIMDJSON_PADDING, '\0');
  RecordParser parser(kSteps);
  Table table(kSteps.table_schema());
  const auto run = parser.parse_run(text.data(), lines, table);
  EXPECT_EQ(run.taken, 50u);
  EXPECT_EQ(run.per_line_end, 50u);
  EXPECT_EQ(run.blank, 1);
  EXPECT_EQ(table.num_rows(), 49u);
}

// parse_lines() over `input` (one buffer, '\n' after each line): rows (encoded), rejects and blank
// count, and how many lines the canonical path took.
struct LinesOutcome {
  BatchOutcome batch;
  std::int64_t canonical = 0;
};
LinesOutcome parse_with_lines(const RecordSchema& schema, const std::vector<std::string>& input,
                              bool canonical_path = true) {
  const auto [text, lines] = buffer_of(input);
  RecordParser parser(schema, canonical_path);
  Table table(schema.table_schema());
  LinesOutcome outcome;
  const auto result = parser.parse_lines(
      text.data(), text.size(), lines, table,
      [&](std::size_t i, const std::string& reason) { outcome.batch.rejects.emplace_back(i, reason); });
  outcome.batch.blank = result.blank;
  EXPECT_EQ(result.accepted, static_cast<std::int64_t>(table.num_rows()));
  EXPECT_EQ(result.rejected, static_cast<std::int64_t>(outcome.batch.rejects.size()));
  for (std::size_t r = 0; r < table.num_rows(); ++r) outcome.batch.rows.push_back(encoded_row(table, r));
  outcome.canonical = parser.canonical_lines();
  return outcome;
}

TEST(RecordParser, CanonicalLinesTakeTheCanonicalPath) {
  const auto got =
      parse_with_lines(kAccelerometer, {R"({"user":"a@b.c","timestamp":1655564444103,"x":-0.296,"y":1,"z":0.040})",
                                        R"({"user":"a@b.c","timeStamp":1655564444103,"x":-0.296,"y":1,"z":0.040})"});
  EXPECT_EQ(got.canonical, 2);  // an alias is canonical too
  ASSERT_EQ(got.batch.rows.size(), 2u);
  EXPECT_EQ(got.batch.rows[0], got.batch.rows[1]);
  const auto steps =
      parse_with_lines(kSteps, {R"({"sensorReadingTime":1,"serialNumber":"s","distanceFromObject":2})",
                                R"({"sensorReadingTime":1,"serialNumber":"s","distanceFromObject":2} )",
                                R"({"sensorReadingTime":1, "serialNumber":"s","distanceFromObject":2})"});
  EXPECT_EQ(steps.canonical, 2);  // trailing blanks are trimmed; a space between members is not canonical
  ASSERT_EQ(steps.batch.rows.size(), 3u);
}

// A random number in JSON-ish text: mostly valid, sometimes what the canonical scanner must refuse
// (leading zeros, -0, exponents, too many digits, a bare point, a sign alone).
std::string random_number(std::mt19937& random, bool integral) {
  const auto digits = [&](int count) {
    std::string text;
    for (int i = 0; i < count; ++i) text += static_cast<char>('0' + random() % 10);
    return text;
  };
  std::string text = random() % 3 == 0 ? "-" : "";
  switch (random() % 12) {
    case 0: text += "0"; break;
    case 1: text += "0" + digits(1 + static_cast<int>(random() % 3)); break;  // leading zero
    case 2: text += digits(1 + static_cast<int>(random() % 22)); break;       // up to 22 digits
    case 3: text += "1" + digits(static_cast<int>(random() % 19)); break;
    default: text += std::to_string(random() % 2000000000000ull); break;
  }
  if (!integral || random() % 8 == 0) {
    switch (random() % 6) {
      case 0: break;
      case 1: text += "."; break;  // no digits after the point
      case 2: text += "." + digits(1 + static_cast<int>(random() % 20)); break;
      default: text += "." + digits(1 + static_cast<int>(random() % 4)); break;
    }
  }
  if (random() % 10 == 0) text += (random() % 2 ? "e" : "E") + std::string(random() % 2 ? "-" : "") + digits(1);
  return text;
}

// A random string value's text (without quotes): mostly plain, sometimes empty, escaped, with
// control or non-ASCII bytes (valid or broken UTF-8), quotes or NUL.
std::string random_string(std::mt19937& random) {
  static const std::vector<std::string> odd = {"",     "\\u0040",  "\\\"", "\\\\", "\t",       std::string(1, '\0'),
                                               "\x7f", "\xc3\xa9", "\xff", "\x01", "\xe2\x82", "\\n"};
  std::string text;
  const int length = static_cast<int>(random() % 40);
  for (int i = 0; i < length; ++i) text += static_cast<char>('!' + random() % 90);
  std::erase(text, '"');
  std::erase(text, '\\');
  if (random() % 6 == 0) text.insert(random() % (text.size() + 1), odd[random() % odd.size()]);
  return text;
}

// A random line of `schema`'s source: its fields in schema order (sometimes shuffled, an alias, a
// field missing, doubled or unknown, null, the wrong type, whitespace, or bytes cut or changed).
std::string random_record(std::mt19937& random, const RecordSchema& schema) {
  if (random() % 2 == 0) {  // half the lines plain: canonical, unless an empty required string
    std::string line = "{";
    for (const FieldSpec& field : schema.fields) {
      line += (line.size() == 1 ? "\"" : ",\"") + field.name + "\":";
      if (field.type == ColumnType::String) {
        std::string text(random() % 30, 'a');
        for (char& c : text) c = static_cast<char>('#' + random() % 57);
        line += "\"" + text + "\"";
      } else {
        line += (random() % 3 == 0 ? "-" : "") + std::to_string(1 + random() % 2000000000000ull);
        if (field.type == ColumnType::Float64 && random() % 2 == 0) line += "." + std::to_string(random() % 1000);
      }
    }
    return line + "}";
  }
  std::vector<std::string> members;
  for (const FieldSpec& field : schema.fields) {
    if (random() % 40 == 0) continue;  // missing
    std::string key = field.name;
    if (!field.aliases.empty() && random() % 5 == 0) key = field.aliases[random() % field.aliases.size()];
    std::string value;
    if (random() % 30 == 0) {
      value = "null";
    } else if (random() % 40 == 0) {
      value = field.type == ColumnType::String ? "12" : "\"12\"";  // the other type
    } else if (field.type == ColumnType::String) {
      value = "\"" + random_string(random) + "\"";
    } else {
      value = random_number(random, field.type == ColumnType::Int64);
    }
    members.push_back("\"" + key + "\":" + value);
    if (random() % 50 == 0) members.push_back(members.back());                               // duplicate
    if (random() % 50 == 0) members.push_back("\"extra\":" + random_number(random, false));  // unknown key
  }
  if (random() % 20 == 0) std::shuffle(members.begin(), members.end(), random);
  const std::string comma = random() % 20 == 0 ? ", " : ",";
  std::string line = random() % 30 == 0 ? " { " : "{";
  for (std::size_t i = 0; i < members.size(); ++i) line += (i == 0 ? "" : comma) + members[i];
  line += random() % 30 == 0 ? "} " : "}";
  switch (random() % 40) {
    case 0: line += "\r"; break;
    case 1: line += "x"; break;
    case 2: line.resize(random() % line.size()); break;                               // cut
    case 3: line[random() % line.size()] = static_cast<char>(random() % 256); break;  // a byte changed
    case 4: line = ""; break;                                                         // blank
    default: break;
  }
  return line;
}

TEST(RecordParser, ReorderedKeysAndUnreadScalarsAreCanonicalNestingIsNot) {
  const std::vector<std::string> input = {
      R"({"x":1.5,"user":"a@b.c","z":0.25,"timestamp":1655564444103,"y":-2})",
      R"({"user":"a@b.c","battery":0.93,"timestamp":1655564444103,"x":1.5,"y":-2,"z":0.25,"note":null})",
      R"({"source":"phone","user":"a@b.c","timestamp":1655564444103,"x":1.5,"y":-2,"z":0.25,"ok":true})",
      R"({"user":"a@b.c","timestamp":1655564444103,"x":1.5,"y":-2,"z":0.25,"tags":["a"]})",       // simdjson
      R"({"user":"a@b.c","meta":{"fw":"1"},"timestamp":1655564444103,"x":1.5,"y":-2,"z":0.25})",  // simdjson
      R"({"user":"a@b.c","timestamp":1655564444103,"x":1.5,"y":-2,"z":0.25,"x":1})",              // duplicate
      R"({"user":"a@b.c","timestamp":1655564444103,"x":1.5,"y":-2})",                             // missing z
      R"({"user":"a@b.c","timestamp":1655564444103,"x":1.5,"y":-2,"z":0.25,"n":1e5})",            // exponent
  };
  const BatchOutcome expected = parse_batch(kAccelerometer, input, false);
  const LinesOutcome got = parse_with_lines(kAccelerometer, input);
  EXPECT_EQ(got.batch.rows, expected.rows);
  EXPECT_EQ(got.batch.rejects, expected.rejects);
  EXPECT_EQ(got.canonical, 3);
  ASSERT_EQ(got.batch.rows.size(), 6u);
  for (std::size_t r = 1; r < 6; ++r) EXPECT_EQ(got.batch.rows[r], got.batch.rows[0]) << r;
  EXPECT_EQ(got.batch.rejects.size(), 2u);
}

TEST(RecordParser, TheCanonicalPathGivesWhatSimdjsonGivesLineByLine) {
  std::mt19937 random(13);
  for (const RecordSchema* schema : {&kAccelerometer, &kSteps, &kCustomer}) {
    std::int64_t canonical = 0, lines = 0;
    for (int trial = 0; trial < 200; ++trial) {
      std::vector<std::string> input;
      const int count = 1 + static_cast<int>(random() % 200);
      for (int i = 0; i < count; ++i) input.push_back(random_record(random, *schema));
      const BatchOutcome expected = parse_batch(*schema, input, false);  // parse(), one line at a time
      const LinesOutcome got = parse_with_lines(*schema, input);
      const LinesOutcome simdjson_only = parse_with_lines(*schema, input, false);
      ASSERT_EQ(got.batch.rows, expected.rows) << schema->source << " trial " << trial;
      ASSERT_EQ(got.batch.rejects, expected.rejects) << schema->source << " trial " << trial;
      ASSERT_EQ(got.batch.blank, expected.blank) << schema->source << " trial " << trial;
      ASSERT_EQ(simdjson_only.batch.rows, expected.rows) << schema->source << " trial " << trial;
      EXPECT_EQ(simdjson_only.canonical, 0);
      canonical += got.canonical;
      lines += count;
    }
    // The canonical path really ran (and not on everything: the mutations reach simdjson).
    EXPECT_GT(canonical, lines / 20) << schema->source;
    EXPECT_LT(canonical, lines) << schema->source;
  }
}

TEST(RecordParser, IntegralFloatsInIntegerFieldsReadAsSimdjsonReadsThem) {
  std::vector<std::string> input;
  for (const std::string time :
       {"1655226713698.0", "1655226713698.00", "1655226713698.0000000", "1655226713698.00000000", "1655226713698.01",
        "1655226713698.10", "0.0", "-0.0", "-12.0", "1655226713698.0e1", "1655226713698.", "123456789012345.0",
        "1234567890123456.0", "12345678901234567.0", "9007199254740993.0", "1.0000000000000000000001"})
    input.push_back(R"({"user":"u","timestamp":)" + time + R"(,"x":1,"y":2,"z":3})");
  const BatchOutcome expected = parse_batch(kAccelerometer, input, false);
  const LinesOutcome got = parse_with_lines(kAccelerometer, input);
  EXPECT_EQ(got.batch.rows, expected.rows);
  EXPECT_EQ(got.batch.rejects, expected.rejects);
  EXPECT_GE(got.canonical, 6);  // the .0 to .0000000 forms, 0.0, -12.0 and the 15-digit one
}

TEST(RecordParser, CanonicalNumbersReadAsSimdjsonReadsThem) {
  // Every digit count and point position up to the scanner's limits, and just past them.
  std::mt19937 random(17);
  std::vector<std::string> input;
  for (int whole = 1; whole <= 17; ++whole)
    for (int fraction = 0; fraction <= 17; ++fraction)
      for (int sign = 0; sign < 2; ++sign) {
        std::string number = sign ? "-" : "";
        number += static_cast<char>('1' + random() % 9);
        for (int i = 1; i < whole; ++i) number += static_cast<char>('0' + random() % 10);
        if (fraction > 0) {
          number += '.';
          for (int i = 0; i < fraction; ++i) number += static_cast<char>('0' + random() % 10);
        }
        input.push_back(R"({"user":"u","timestamp":)" + (fraction == 0 ? number : std::string("1")) + R"(,"x":)" +
                        number + R"(,"y":0.)" + std::string(static_cast<std::size_t>(fraction), '9') + R"(,"z":0})");
      }
  const BatchOutcome expected = parse_batch(kAccelerometer, input, false);
  const LinesOutcome got = parse_with_lines(kAccelerometer, input);
  EXPECT_EQ(got.batch.rows, expected.rows);
  EXPECT_EQ(got.batch.rejects, expected.rejects);
  EXPECT_GT(got.canonical, 100);
}

}  // namespace
}  // namespace mpilake
