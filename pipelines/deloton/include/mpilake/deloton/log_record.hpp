#pragma once
// One landing NDJSON record of the Deloton feed, `{"log": "<log line>\n"}` (other keys ignored):
// its log text, or the quarantine reason bad_record. simdjson On-Demand; errors are values.
#include <simdjson.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace mpilake::deloton {

inline constexpr std::string_view kBadRecord = "bad_record";

class LogRecordParser {
 public:
  // `canonical_path`: take canonical records (below) without simdjson; false sends every record
  // through simdjson (for tests that compare the two).
  explicit LogRecordParser(bool canonical_path = true) : canonical_path_(canonical_path) {}
  // `data[0, length)` is one NDJSON line (without its '\n'; a trailing '\r' is JSON whitespace);
  // `capacity` readable bytes follow `data` and must be at least length + simdjson::SIMDJSON_PADDING.
  // True: `log_text` holds the unescaped value of the first "log" key, less one final "\n" and a "\r"
  // before it. False: the record is bad_record (not valid JSON anywhere, invalid UTF-8 or an unpaired
  // surrogate escape included; not one object; no string "log"), and `log_text` is unspecified.
  // Blank lines are the caller's to recognise.
  bool parse(const char* data, std::size_t length, std::size_t capacity, std::string& log_text);
  // The same, with `log_text` a view valid until the next call. A canonical record, exactly
  // `{"log": "<text>\n"}` or `{"log": "<text>"}` with <text> printable ASCII without escapes (what
  // the feed writes for all but the ride starts), is read without simdjson: its text is a view into
  // `data`, the bytes simdjson would give. Any other record goes through simdjson.
  bool parse(const char* data, std::size_t length, std::size_t capacity, std::string_view& log_text);
  // Records parse() took through the canonical path so far.
  std::int64_t canonical_records() const { return canonical_records_; }

 private:
  bool parse_simdjson(const char* data, std::size_t length, std::size_t capacity, std::string& log_text);

  simdjson::ondemand::parser parser_;
  std::string text_;  // the last record's log text when simdjson read it
  bool canonical_path_ = true;
  std::int64_t canonical_records_ = 0;
};

// Walks a JSON value that is otherwise not read and reports the first thing that is not JSON: simdjson
// On-Demand checks only what it is asked for. Numbers are checked against JSON's grammar only, so
// valid JSON such as 1e400 or a 30-digit integer passes (a JSON reader takes them too).
simdjson::error_code validate_json_value(simdjson::ondemand::value value, int depth = 0);

// A JSON scalar token as simdjson On-Demand's raw_json_token() gives it, less the whitespace that
// may follow it.
std::string_view trim_json_token(std::string_view token);

}  // namespace mpilake::deloton
