// Field normalisation and quarantine reasons of the record parser (DESIGN.md "Normalise").
#include "mpilake/json/record_parser.hpp"

#include <gtest/gtest.h>

#include <string>

#include "mpilake/stedi/schema.hpp"

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

}  // namespace
}  // namespace mpilake
