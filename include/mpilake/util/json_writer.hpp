#pragma once
// Minimal JSON text writer for summaries and quarantine records. Hand-written: none of the chosen
// dependencies writes JSON (simdjson only parses), and the output needs only objects, arrays,
// strings and numbers.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace mpilake {

// Appends `text` as a JSON string literal. Invalid UTF-8 bytes are written as \u00XX escapes of
// the byte value so the output is always valid JSON.
void append_json_string(std::string& out, std::string_view text);

class JsonWriter {
 public:
  explicit JsonWriter(bool pretty = true) : pretty_(pretty) {}
  JsonWriter& begin_object(std::string_view key = {});
  JsonWriter& end_object();
  JsonWriter& begin_array(std::string_view key = {});
  JsonWriter& end_array();
  JsonWriter& value(std::string_view key, std::string_view text);
  JsonWriter& value(std::string_view key, const char* text) { return value(key, std::string_view(text)); }
  JsonWriter& value(std::string_view key, std::int64_t number);
  JsonWriter& value(std::string_view key, double number);
  JsonWriter& value(std::string_view key, bool flag);
  JsonWriter& null(std::string_view key);
  const std::string& str() const { return out_; }

 private:
  void prefix(std::string_view key);
  std::string out_;
  std::vector<bool> has_items_;
  std::vector<bool> in_object_;  // per open container: an object (items have keys) or an array
  bool pretty_;
};

}  // namespace mpilake
