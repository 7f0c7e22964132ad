#include "mpilake/json/record_parser.hpp"

#include <charconv>
#include <cmath>
#include <cstring>

namespace mpilake {

namespace od = simdjson::ondemand;

Schema RecordSchema::table_schema() const {
  Schema schema;
  for (const auto& field : fields) schema.push_back({field.name, field.type});
  return schema;
}

bool parse_decimal_int64(std::string_view text, std::int64_t& value) {
  if (text.empty()) return false;
  const char* first = text.data();
  const char* last = text.data() + text.size();
  if (*first == '+') return false;  // from_chars rejects it too, but be explicit: digits only
  const auto [end, error] = std::from_chars(first, last, value);
  return error == std::errc() && end == last;
}

bool integral_double_to_int64(double value, std::int64_t& result) {
  // 2^63 is exactly representable; every double below it in magnitude that is integral fits.
  constexpr double kLimit = 9223372036854775808.0;
  if (!std::isfinite(value) || value != std::trunc(value) || value >= kLimit || value < -kLimit) return false;
  result = static_cast<std::int64_t>(value);
  return true;
}

namespace {

std::string_view json_type_name(od::json_type type) {
  switch (type) {
    case od::json_type::array: return "an array";
    case od::json_type::object: return "an object";
    case od::json_type::number: return "a number";
    case od::json_type::string: return "a string";
    case od::json_type::boolean: return "a boolean";
    case od::json_type::null: return "null";
  }
  return "an unknown value";
}

std::string simdjson_reason(simdjson::error_code error) {
  return std::string("invalid JSON (") + simdjson::error_message(error) + ")";
}

// On-Demand skips values it is not asked for without checking them, so an unknown key's value is
// walked here: a line with broken JSON anywhere is quarantined, not accepted.
// Reads a JSON number that must be an int64 or an integral float. Avoids number::get_number(),
// which in simdjson 3.0.1 turns decimals with 19+ significant digits (1655564376361.000000) into 0.
// Returns an empty string on success, else what is wrong.
std::string read_integral(od::value value, std::int64_t& result) {
  od::number_type kind;
  if (auto error = value.get_number_type().get(kind))
    return std::string("a number out of range (") + simdjson::error_message(error) + ")";
  if (kind == od::number_type::unsigned_integer) return "an integer out of the int64 range";
  if (kind == od::number_type::signed_integer) {
    if (auto error = value.get_int64().get(result))
      return std::string("an integer out of the int64 range (") + simdjson::error_message(error) + ")";
    return {};
  }
  double number = 0;
  if (auto error = value.get_double().get(number))
    return std::string("a number out of range (") + simdjson::error_message(error) + ")";
  if (!integral_double_to_int64(number, result)) return "not an integer (or out of the int64 range)";
  return {};
}

// Deeper values are quarantined: simdjson enforces its depth limit only on values it is asked for.
constexpr int kMaxDepth = 1024;

simdjson::error_code validate_value(od::value value, int depth = 0) {
  if (depth > kMaxDepth) return simdjson::DEPTH_ERROR;
  od::json_type type;
  if (auto error = value.type().get(type)) return error;
  switch (type) {
    case od::json_type::object: {
      od::object object;
      if (auto error = value.get_object().get(object)) return error;
      for (auto field_result : object) {
        od::field field;
        if (auto error = std::move(field_result).get(field)) return error;
        std::string_view key;
        if (auto error = field.unescaped_key().get(key)) return error;
        if (auto error = validate_value(field.value(), depth + 1)) return error;
      }
      return simdjson::SUCCESS;
    }
    case od::json_type::array: {
      od::array array;
      if (auto error = value.get_array().get(array)) return error;
      for (auto element : array) {
        od::value item;
        if (auto error = std::move(element).get(item)) return error;
        if (auto error = validate_value(item, depth + 1)) return error;
      }
      return simdjson::SUCCESS;
    }
    case od::json_type::number: return value.get_double().error();
    case od::json_type::string: return value.get_string().error();
    case od::json_type::boolean: return value.get_bool().error();
    case od::json_type::null: {
      // is_null() must be checked as a result: a token like `nul` is an error, not "false".
      bool is_null = false;
      if (auto error = value.is_null().get(is_null)) return error;
      return is_null ? simdjson::SUCCESS : simdjson::INCORRECT_TYPE;
    }
  }
  return simdjson::INCORRECT_TYPE;
}

}  // namespace

RecordParser::RecordParser(RecordSchema schema) : schema_(std::move(schema)), slots_(schema_.fields.size()) {}

int RecordParser::field_for_key(std::string_view key) const {
  for (std::size_t i = 0; i < schema_.fields.size(); ++i) {
    const auto& field = schema_.fields[i];
    if (field.name == key) return static_cast<int>(i);
    for (const auto& alias : field.aliases)
      if (alias == key) return static_cast<int>(i);
  }
  return -1;
}

bool RecordParser::read_value(std::size_t index, od::value value, std::string& reason) {
  const FieldSpec& field = schema_.fields[index];
  Slot& slot = slots_[index];
  od::json_type type;
  if (auto error = value.type().get(type)) {
    reason = simdjson_reason(error);
    return false;
  }
  const auto wrong_type = [&](std::string_view expected) {
    reason =
        "field '" + field.name + "' is " + std::string(json_type_name(type)) + ", expected " + std::string(expected);
    return false;
  };
  if (type == od::json_type::null) {
    slot.is_null = true;
    return true;
  }
  switch (field.type) {
    case ColumnType::Int64: {
      if (type == od::json_type::string) {
        std::string_view text;
        if (auto error = value.get_string().get(text)) return (reason = simdjson_reason(error)), false;
        if (text.empty()) return (slot.is_null = true);
        if (!parse_decimal_int64(text, slot.int_value))
          return (reason = "field '" + field.name + "' is a string that is not a decimal integer"), false;
        slot.is_null = false;
        return true;
      }
      if (type != od::json_type::number) return wrong_type("an integer");
      if (const std::string problem = read_integral(value, slot.int_value); !problem.empty())
        return (reason = "field '" + field.name + "' is " + problem), false;
      slot.is_null = false;
      return true;
    }
    case ColumnType::Float64: {
      if (type != od::json_type::number) return wrong_type("a number");
      // get_double also reads integers beyond 64 bits (1e30 written out), which get_number refuses.
      if (auto error = value.get_double().get(slot.float_value))
        return (reason =
                    "field '" + field.name + "' is a number out of range (" + simdjson::error_message(error) + ")"),
               false;
      slot.is_null = false;
      return true;
    }
    case ColumnType::String: {
      if (type == od::json_type::number && field.accepts_number) {
        std::int64_t integer = 0;
        if (const std::string problem = read_integral(value, integer); !problem.empty())
          return (reason = "field '" + field.name + "' is " + problem), false;
        slot.number_text = std::to_string(integer);
        slot.string_value = slot.number_text;
        slot.is_null = false;
        return true;
      }
      if (type != od::json_type::string) return wrong_type("a string");
      std::string_view text;
      if (auto error = value.get_string().get(text)) return (reason = simdjson_reason(error)), false;
      // HDF5 fixed-length strings are NUL-padded: an embedded NUL would silently cut the value.
      if (text.find('\0') != std::string_view::npos)
        return (reason = "field '" + field.name + "' contains a NUL character"), false;
      slot.string_value = text;
      slot.is_null = text.empty();
      return true;
    }
  }
  return false;
}

LineOutcome RecordParser::parse(const char* data, std::size_t length, std::size_t capacity, Table& table,
                                std::string& reason) {
  while (length > 0 && (data[length - 1] == '\r' || data[length - 1] == ' ' || data[length - 1] == '\t')) --length;
  std::size_t first = 0;
  while (first < length && (data[first] == ' ' || data[first] == '\t')) ++first;
  if (first == length) return LineOutcome::Blank;

  for (auto& slot : slots_) {
    slot.seen = false;
    slot.is_null = true;
  }
  od::document document;
  if (auto error = parser_.iterate(data, length, capacity).get(document)) {
    reason = simdjson_reason(error);
    return LineOutcome::Rejected;
  }
  od::object object;
  if (auto error = document.get_object().get(object)) {
    reason = error == simdjson::INCORRECT_TYPE ? "not a JSON object" : simdjson_reason(error);
    return LineOutcome::Rejected;
  }
  for (auto field_result : object) {
    od::field field;
    if (auto error = std::move(field_result).get(field)) {
      reason = simdjson_reason(error);
      return LineOutcome::Rejected;
    }
    std::string_view key;
    if (auto error = field.unescaped_key().get(key)) {
      reason = simdjson_reason(error);
      return LineOutcome::Rejected;
    }
    const int index = field_for_key(key);
    if (index < 0) {  // unknown extra key: ignored, but it must still be valid JSON
      if (auto error = validate_value(field.value())) {
        reason = simdjson_reason(error);
        return LineOutcome::Rejected;
      }
      continue;
    }
    Slot& slot = slots_[static_cast<std::size_t>(index)];
    if (slot.seen) {
      reason = "duplicate key for field '" + schema_.fields[static_cast<std::size_t>(index)].name + "'";
      return LineOutcome::Rejected;
    }
    slot.seen = true;
    if (!read_value(static_cast<std::size_t>(index), field.value(), reason)) return LineOutcome::Rejected;
  }
  // After the object only the end of input may follow (simdjson 3.0 has no document::at_end()):
  // current_location() fails with OUT_OF_BOUNDS exactly when nothing is left.
  const char* trailing = nullptr;
  if (document.current_location().get(trailing) == simdjson::SUCCESS) {
    reason = "trailing content after the JSON object";
    return LineOutcome::Rejected;
  }
  for (std::size_t i = 0; i < schema_.fields.size(); ++i) {
    if (schema_.fields[i].required && slots_[i].is_null) {
      reason = "missing required field '" + schema_.fields[i].name + "'";
      return LineOutcome::Rejected;
    }
  }
  for (std::size_t i = 0; i < schema_.fields.size(); ++i) {
    const Slot& slot = slots_[i];
    switch (schema_.fields[i].type) {
      case ColumnType::Int64: table.ints(i).push_back(slot.is_null ? kNullInt64 : slot.int_value); break;
      case ColumnType::Float64:
        table.floats(i).push_back(slot.is_null ? std::numeric_limits<double>::quiet_NaN() : slot.float_value);
        break;
      case ColumnType::String: table.strings(i).push_back(slot.is_null ? std::string_view{} : slot.string_value); break;
    }
  }
  table.commit_row();
  return LineOutcome::Accepted;
}

}  // namespace mpilake
