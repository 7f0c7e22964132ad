#pragma once
// Walking a JSON value that nobody reads, to find what is not JSON: simdjson On-Demand checks only
// what it is asked for, so a record whose unknown keys hold `nul`, `[1,}` or a lone surrogate would
// otherwise pass. Objects, arrays, keys and strings are checked here; scalars by the caller's policy
// (a pipeline decides, e.g., whether 1e400 in an ignored key is acceptable).
#include <simdjson.h>

namespace mpilake {

// Values nested deeper than this are rejected (simdjson's own limit applies only to what it reads).
inline constexpr int kMaxJsonDepth = 1024;

// `check_scalar(value, type)` returns the error for a number, boolean or null (SUCCESS when fine).
template <class CheckScalar>
simdjson::error_code validate_json_value(simdjson::ondemand::value value, CheckScalar&& check_scalar, int depth = 0) {
  namespace od = simdjson::ondemand;
  if (depth > kMaxJsonDepth) return simdjson::DEPTH_ERROR;
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
        if (auto error = validate_json_value(field.value(), check_scalar, depth + 1)) return error;
      }
      return simdjson::SUCCESS;
    }
    case od::json_type::array: {
      od::array array;
      if (auto error = value.get_array().get(array)) return error;
      for (auto element : array) {
        od::value item;
        if (auto error = std::move(element).get(item)) return error;
        if (auto error = validate_json_value(item, check_scalar, depth + 1)) return error;
      }
      return simdjson::SUCCESS;
    }
    case od::json_type::string: return value.get_string().error();
    case od::json_type::number:
    case od::json_type::boolean:
    case od::json_type::null: return check_scalar(value, type);
  }
  return simdjson::INCORRECT_TYPE;
}

}  // namespace mpilake
