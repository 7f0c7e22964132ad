#include "mpilake/deloton/log_record.hpp"

#include <cstring>

#include "mpilake/deloton/log_line.hpp"
#include "mpilake/json/string_scan.hpp"
#include "mpilake/json/validate.hpp"

namespace mpilake::deloton {

namespace od = simdjson::ondemand;

namespace {

// Sets `is_log` to whether the key of `field` is "log". Its raw bytes decide when they are `log"`;
// any other key is unescaped first (which also checks it), so that "\u006cog" is the same key.
simdjson::error_code check_log_key(od::field& field, bool& is_log) {
  const char* const raw = field.key().raw();
  is_log = std::memcmp(raw, "log\"", 4) == 0;  // the padding makes 4 bytes readable
  if (is_log) return simdjson::SUCCESS;
  std::string_view key;
  if (auto error = field.unescaped_key().get(key)) return error;
  is_log = key == "log";
  return simdjson::SUCCESS;
}

}  // namespace

std::string_view trim_json_token(std::string_view token) {
  while (!token.empty()) {
    const char last = token.back();
    if (last != ' ' && last != '\t' && last != '\n' && last != '\r') break;
    token.remove_suffix(1);
  }
  return token;
}

static simdjson::error_code check_json_scalar(od::value value, od::json_type type) {
  // Scalars are read as their token (the iteration steps over them): simdjson's type() looks only
  // at the first byte, so `nul`, `truex` or `01` would pass unchecked. Numbers need only be in JSON's
  // grammar, whatever their size.
  const std::string_view token = trim_json_token(value.raw_json_token());
  switch (type) {
    case od::json_type::number: return is_json_number(token) ? simdjson::SUCCESS : simdjson::NUMBER_ERROR;
    case od::json_type::boolean:
      return token == "true" || token == "false" ? simdjson::SUCCESS : simdjson::T_ATOM_ERROR;
    case od::json_type::null: return token == "null" ? simdjson::SUCCESS : simdjson::N_ATOM_ERROR;
    default: return simdjson::INCORRECT_TYPE;
  }
}

simdjson::error_code validate_json_value(od::value value, int depth) {
  return mpilake::validate_json_value(value, check_json_scalar, depth);
}

bool LogRecordParser::parse(const char* data, std::size_t length, std::size_t capacity, std::string& log_text) {
  std::string_view text;
  if (!parse(data, length, capacity, text)) return false;
  log_text.assign(text);
  return true;
}

bool LogRecordParser::parse(const char* data, std::size_t length, std::size_t capacity, std::string_view& log_text) {
  // The canonical record: the prefix, a string that find_string_stop runs through up to its closing
  // '"' or the '\\' of a final "\n", then exactly the end. Printable ASCII is valid UTF-8 and needs
  // no unescaping, so the bytes are simdjson's string.
  constexpr std::string_view kPrefix = R"({"log": ")";
  if (canonical_path_ && length >= kPrefix.size() + 2 && std::memcmp(data, kPrefix.data(), kPrefix.size()) == 0) {
    const char* const begin = data + kPrefix.size();
    const char* const end = data + length;
    const char* const stop = json_scan::find_string_stop(begin, end);
    const std::ptrdiff_t left = end - stop;
    if ((left == 2 && stop[0] == '"' && stop[1] == '}') ||
        (left == 4 && stop[0] == '\\' && stop[1] == 'n' && stop[2] == '"' && stop[3] == '}')) {
      log_text = std::string_view(begin, static_cast<std::size_t>(stop - begin));
      ++canonical_records_;
      return true;
    }
  }
  if (!parse_simdjson(data, length, capacity, text_)) return false;
  log_text = text_;
  return true;
}

bool LogRecordParser::parse_simdjson(const char* data, std::size_t length, std::size_t capacity,
                                     std::string& log_text) {
  od::document document;
  if (parser_.iterate(data, length, capacity).get(document) != simdjson::SUCCESS) return false;
  od::object object;
  if (document.get_object().get(object) != simdjson::SUCCESS) return false;
  bool found = false;
  for (auto field_result : object) {
    if (field_result.error() != simdjson::SUCCESS) return false;
    od::field& field = field_result.value_unsafe();
    bool log_key = false;
    if (check_log_key(field, log_key) != simdjson::SUCCESS) return false;  // an invalid escape in any key
    if (log_key && !found) {
      std::string_view text;
      if (field.value().get_string().get(text) != simdjson::SUCCESS) return false;
      if (text.ends_with('\n')) {
        text.remove_suffix(1);
        if (text.ends_with('\r')) text.remove_suffix(1);
      }
      log_text.assign(text);
      found = true;
      continue;
    }
    // Any other key (or a later "log") is ignored, but the record must still be JSON throughout.
    if (validate_json_value(field.value()) != simdjson::SUCCESS) return false;
  }
  // Only the end of input may follow the object: current_location() fails exactly then.
  const char* trailing = nullptr;
  if (document.current_location().get(trailing) == simdjson::SUCCESS) return false;
  return found;
}

}  // namespace mpilake::deloton
