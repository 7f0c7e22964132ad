#pragma once
// Parses one NDJSON line with simdjson On-Demand straight into the columns of a Table, applying the
// normalisation rules of DESIGN.md. Errors are values: a rejected line returns its reason.
#include <simdjson.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "mpilake/json/record_schema.hpp"
#include "mpilake/table/table.hpp"

namespace mpilake {

enum class LineOutcome { Accepted, Blank, Rejected };

class RecordParser {
 public:
  explicit RecordParser(RecordSchema schema);
  const RecordSchema& schema() const { return schema_; }

  // `data[0, length)` is the line (a trailing '\r' is allowed); `capacity` readable bytes follow
  // `data` and must be at least length + simdjson::SIMDJSON_PADDING. On Accepted one row is appended
  // to `table` (whose schema is schema().table_schema()); on Rejected `reason` says why.
  LineOutcome parse(const char* data, std::size_t length, std::size_t capacity, Table& table, std::string& reason);

 private:
  struct Slot {
    bool seen = false;
    bool is_null = true;
    std::int64_t int_value = kNullInt64;
    double float_value = 0;
    std::string_view string_value;
    std::string number_text;  // storage for a number written where a string is expected
  };
  int field_for_key(std::string_view key) const;
  bool read_value(std::size_t field, simdjson::ondemand::value value, std::string& reason);

  RecordSchema schema_;
  simdjson::ondemand::parser parser_;
  std::vector<Slot> slots_;
};

// Parses a decimal integer string (optional leading '-'); false unless the whole text is one.
bool parse_decimal_int64(std::string_view text, std::int64_t& value);
// True when `value` is integral and representable as int64.
bool integral_double_to_int64(double value, std::int64_t& result);

}  // namespace mpilake
