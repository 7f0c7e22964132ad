#include "mpilake/util/json_writer.hpp"

#include <simdjson.h>

#include <cmath>
#include <cstdio>

namespace mpilake {

void append_json_string(std::string& out, std::string_view text) {
  const bool valid_utf8 = simdjson::validate_utf8(text.data(), text.size());
  out.push_back('"');
  for (unsigned char c : text) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20 || c == 0x7F || (c >= 0x80 && !valid_utf8)) {
          char escaped[8];
          std::snprintf(escaped, sizeof escaped, "\\u%04x", c);
          out += escaped;
        } else {
          out.push_back(static_cast<char>(c));
        }
    }
  }
  out.push_back('"');
}

void JsonWriter::prefix(std::string_view key) {
  if (!has_items_.empty()) {
    if (has_items_.back()) out_.push_back(',');
    has_items_.back() = true;
    if (pretty_) {
      out_.push_back('\n');
      out_.append(has_items_.size() * 2, ' ');
    }
  }
  // Inside an object every item has a key, the empty one too; elsewhere none.
  if (!in_object_.empty() && in_object_.back()) {
    append_json_string(out_, key);
    out_ += pretty_ ? ": " : ":";
  }
}

JsonWriter& JsonWriter::begin_object(std::string_view key) {
  prefix(key);
  out_.push_back('{');
  has_items_.push_back(false);
  in_object_.push_back(true);
  return *this;
}

JsonWriter& JsonWriter::end_object() {
  const bool had_items = has_items_.back();
  has_items_.pop_back();
  in_object_.pop_back();
  if (pretty_ && had_items) {
    out_.push_back('\n');
    out_.append(has_items_.size() * 2, ' ');
  }
  out_.push_back('}');
  return *this;
}

JsonWriter& JsonWriter::begin_array(std::string_view key) {
  prefix(key);
  out_.push_back('[');
  has_items_.push_back(false);
  in_object_.push_back(false);
  return *this;
}

JsonWriter& JsonWriter::end_array() {
  const bool had_items = has_items_.back();
  has_items_.pop_back();
  in_object_.pop_back();
  if (pretty_ && had_items) {
    out_.push_back('\n');
    out_.append(has_items_.size() * 2, ' ');
  }
  out_.push_back(']');
  return *this;
}

JsonWriter& JsonWriter::value(std::string_view key, std::string_view text) {
  prefix(key);
  append_json_string(out_, text);
  return *this;
}

JsonWriter& JsonWriter::value(std::string_view key, std::int64_t number) {
  prefix(key);
  out_ += std::to_string(number);
  return *this;
}

JsonWriter& JsonWriter::value(std::string_view key, double number) {
  prefix(key);
  if (!std::isfinite(number)) {
    out_ += "null";
    return *this;
  }
  char text[32];
  std::snprintf(text, sizeof text, "%.6g", number);
  out_ += text;
  return *this;
}

JsonWriter& JsonWriter::value(std::string_view key, bool flag) {
  prefix(key);
  out_ += flag ? "true" : "false";
  return *this;
}

JsonWriter& JsonWriter::null(std::string_view key) {
  prefix(key);
  out_ += "null";
  return *this;
}

}  // namespace mpilake
