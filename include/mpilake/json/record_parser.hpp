#pragma once
// Parses one NDJSON line with simdjson On-Demand straight into the columns of a Table, applying the
// normalisation rules of DESIGN.md. Errors are values: a rejected line returns its reason.
#include <simdjson.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "mpilake/io/line_reader.hpp"
#include "mpilake/json/record_schema.hpp"
#include "mpilake/table/key_index.hpp"
#include "mpilake/table/table.hpp"

namespace mpilake {

enum class LineOutcome { Accepted, Blank, Rejected };

class RecordParser {
 public:
  // `canonical_path`: take canonical lines (below) without simdjson; false sends every line through
  // simdjson (for tests and benchmarks that compare the two).
  explicit RecordParser(RecordSchema schema, bool canonical_path = true);
  const RecordSchema& schema() const { return schema_; }
  // The schema of the rows parse() appends: the record schema's, with each id field as int64.
  const Schema& table_schema() const { return table_schema_; }

  // From now on the required string field `field` is stored as its id in `index` (kAbsent when the
  // index does not hold it) instead of its bytes: a key turned into a dense id where it is parsed
  // (emails, serial numbers), so nothing later compares strings. Rows, reasons and quarantine are
  // unchanged. `index` must outlive the parsing; lines that repeat the previous line's key cost a
  // compare, not a lookup.
  void store_as_id(std::size_t field, const StringKeyIndex& index);

  // What parse_lines() did with its lines.
  struct LinesResult {
    std::int64_t accepted = 0;
    std::int64_t blank = 0;
    std::int64_t rejected = 0;
  };
  // Parses consecutive lines of one buffer (a line's text is data + line.start; `capacity` bytes are
  // readable from `data`, at least SIMDJSON_PADDING past the last line) into `table`, with exactly
  // the rows, blanks and reasons that parse() gives line by line, the fastest way it can:
  //  - a canonical line is read by a strict scanner that gives the values simdjson gives: compact
  //    (no whitespace), every required field once, by its name or an alias, in schema order (or, as
  //    a second chance, in any order, with keys nobody reads whose values are scalars); strings of
  //    printable ASCII without escapes; integers of up to 18 digits (or an integral float of up to
  //    15); numbers without exponent with up to 15 digits; no null for a known field. The first
  //    byte it does not expect sends the line on;
  //  - the other lines: a few alone go through parse(), longer stretches through parse_run() (one
  //    simdjson iterate_many per run), and a run's bad line through parse().
  // `on_reject(i, reason)` is called for each rejected line i, in order.
  LinesResult parse_lines(const char* data, std::size_t capacity, std::span<const Line> lines, Table& table,
                          const std::function<void(std::size_t, const std::string&)>& on_reject);
  // Lines parse_lines() took through the canonical path so far.
  std::int64_t canonical_lines() const { return canonical_lines_; }

  // `data[0, length)` is the line (a trailing '\r' is allowed); `capacity` readable bytes follow
  // `data` and must be at least length + simdjson::SIMDJSON_PADDING. On Accepted one row is appended
  // to `table` (whose schema is schema().table_schema()); on Rejected `reason` says why.
  LineOutcome parse(const char* data, std::size_t length, std::size_t capacity, Table& table, std::string& reason);

  // What parse_run() did with a run of lines: lines [0, taken) are done (their rows appended,
  // `blank` of them blank); lines [taken, per_line_end) must go through parse() one by one (one of
  // them may be bad); the caller continues with parse_run() from per_line_end.
  struct RunResult {
    std::size_t taken = 0;
    std::size_t per_line_end = 0;
    std::int64_t blank = 0;
  };
  // Parses a leading window of `lines` (consecutive lines of one buffer: a line's text is data +
  // line.start, its padding readable after the last line) with one simdjson iterate_many, i.e. one
  // stage 1 for the window. A line is taken only when the stream proves it equals what parse() would
  // do with it: each non-blank line starts exactly one document and the one after it starts the next
  // line's, and parse() rules accept the document. Everything else is left to parse() line by line,
  // so rows, reasons and quarantine are exactly those of parse(). The window adapts: after a window
  // that held a bad line the next is small, after a clean one it doubles (up to kMaxRunBytes).
  RunResult parse_run(const char* data, std::span<const Line> lines, Table& table);
  static constexpr std::size_t kMinRunBytes = std::size_t{4} << 10;
  static constexpr std::size_t kMaxRunBytes = std::size_t{1} << 20;

 private:
  // The bytes before a field's value in a canonical line: `{"key":` for the first field, `,"key":`
  // for the others, the key being the field's name or one of its aliases; as masked 8-byte words.
  struct CanonicalKey {
    std::size_t length = 0;
    int words = 0;
    std::uint64_t word[6] = {};
    std::uint64_t mask[6] = {};
    bool matches(const char* p) const;
  };
  // One field of the canonical layout: its spellings, the one that matched last tried first.
  struct CanonicalStep {
    ColumnType type = ColumnType::Int64;
    bool required = false;
    std::vector<CanonicalKey> keys;
    std::size_t last = 0;
  };
  union CanonicalValue {
    std::int64_t int_value;
    double float_value;
    struct {
      const char* data;
      std::size_t size;
    } text;
  };
  // Reads the trimmed line [p, end) as a canonical line; on success appends its row (when kAppend)
  // and returns true. False means only that the line is not canonical: nothing was appended.
  template <bool kAppend>
  bool take_canonical(const char* p, const char* end, Table& table);
  // The same for a canonical line whose keys come in any order, with keys nobody reads whose values
  // are scalars: each key is looked up (slower; tried when take_canonical fails).
  template <bool kAppend>
  bool take_canonical_any_order(const char* p, const char* end, Table& table);
  // take_canonical, then take_canonical_any_order.
  template <bool kAppend>
  bool take_canonical_line(const char* p, const char* end, Table& table);
  // Lines [0, n) of `lines` that are canonical or blank, taken; stops at the first other line.
  std::size_t take_canonical_lines(const char* data, std::span<const Line> lines, Table& table, LinesResult& result);

  // The parse rules for one document (a line's, or one of a stream's): `end` is where the line's
  // text ends; `check_trailing`: reject content after the object (a stream checks it by position).
  template <class Document>
  LineOutcome parse_document(Document& document, const char* end, bool check_trailing, Table& table,
                             std::string& reason);

  // Per-field state of the line being parsed. A slot holds a value of this line only when its
  // generation matches: `seen` says the key occurred, `set` that it has a non-null value (no per-line
  // reset needed).
  struct Slot {
    std::uint64_t seen = 0;
    std::uint64_t set = 0;
    std::int64_t int_value = kNullInt64;
    double float_value = 0;
    std::string_view string_value;
    std::string number_text;  // storage for a number written where a string is expected
  };
  // One spelling of a field's key (its name or an alias), with the spelling and its closing quote
  // as masked 8-byte words for comparing against the raw key bytes of the input.
  struct KeySpelling {
    std::string text;
    int field = -1;
    int words = 0;  // 0: not comparable raw (too long, or it holds a quote or backslash)
    std::uint64_t word[4] = {};
    std::uint64_t mask[4] = {};
    bool matches_raw(const char* raw) const;
  };
  // Index into spellings_ of `key`, or -1 (the first field, in schema order, with that name or alias).
  int spelling_for_key(std::string_view key) const;
  bool read_value(std::size_t field, simdjson::ondemand::value value, std::string& reason);

  RecordSchema schema_;
  simdjson::ondemand::parser parser_;
  std::vector<Slot> slots_;
  std::vector<ColumnType> types_;
  std::vector<std::size_t> required_;
  std::vector<KeySpelling> spellings_;
  std::vector<int> key_table_;  // open addressing over spellings_, -1 for empty
  std::size_t key_table_mask_ = 0;
  // predicted_[f + 1]: the spelling that followed field f last time (predicted_[0]: the first key).
  std::vector<int> predicted_;
  std::uint64_t generation_ = 0;
  std::size_t run_bytes_ = kMinRunBytes;          // parse_run's next window
  std::vector<std::size_t> run_lines_;            // parse_run: index of each non-blank line of the window
  std::vector<std::size_t> run_begin_, run_end_;  // ... its first and past-last non-blank byte
  std::string run_reason_;
  std::vector<CanonicalStep> canonical_;  // empty: no canonical path
  std::uint64_t canonical_required_ = 0;  // bit k: field k is required
  std::vector<CanonicalValue> canonical_values_;
  Schema table_schema_;
  // Per field: the lookup of its ids (store_as_id), or none (stored as its bytes).
  std::vector<std::optional<StringRunLookup>> id_lookup_;
  std::int64_t canonical_lines_ = 0;
};

// Parses a decimal integer string (optional leading '-'); false unless the whole text is one.
bool parse_decimal_int64(std::string_view text, std::int64_t& value);
// True when `value` is integral and representable as int64.
bool integral_double_to_int64(double value, std::int64_t& result);

}  // namespace mpilake
