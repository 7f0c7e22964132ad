#include "mpilake/json/record_parser.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>
#include <limits>
#include <stdexcept>

#include "mpilake/json/string_scan.hpp"
#include "mpilake/json/validate.hpp"

#if defined(__AVX2__)
#include <immintrin.h>
#endif

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

// STEDI's scalars in keys nobody reads: a number must read as a finite double, a boolean or null as
// simdjson reads them. Deeper values than kMaxJsonDepth are quarantined.
simdjson::error_code check_scalar(od::value value, od::json_type type) {
  switch (type) {
    case od::json_type::number: return value.get_double().error();
    case od::json_type::boolean: return value.get_bool().error();
    case od::json_type::null: {
      // is_null() must be checked as a result: a token like `nul` is an error, not "false".
      bool is_null = false;
      if (auto error = value.is_null().get(is_null)) return error;
      return is_null ? simdjson::SUCCESS : simdjson::INCORRECT_TYPE;
    }
    default: return simdjson::INCORRECT_TYPE;
  }
}

simdjson::error_code validate_value(od::value value) {
  return validate_json_value(value, check_scalar);
}

// Hash of a key for the spelling table: its length and first, middle and last bytes.
std::size_t key_hash(std::string_view key) {
  if (key.empty()) return 0;
  const auto byte = [&](std::size_t i) { return static_cast<std::size_t>(static_cast<unsigned char>(key[i])); };
  std::size_t h = key.size();
  h = h * 31 + byte(0);
  h = h * 31 + byte(key.size() / 2);
  h = h * 31 + byte(key.size() - 1);
  return h * 0x9E3779B97F4A7C15ull >> 32;
}

std::uint64_t load_word(const char* bytes) {
  std::uint64_t word;
  std::memcpy(&word, bytes, sizeof word);
  return word;
}

// The first '"' or '\\' at or after `text`, or `end` when there is none before it. Inside a JSON
// string of the line, that is its closing quote unless the string has an escape. Reads up to 31
// bytes past `end`: the line's padding.
const char* find_quote_or_backslash(const char* text, const char* end) {
#if defined(__AVX2__)
  const __m256i quote = _mm256_set1_epi8('"');
  const __m256i backslash = _mm256_set1_epi8('\\');
  for (; text < end; text += 32) {
    const __m256i block = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(text));
    const auto hits = static_cast<std::uint32_t>(
        _mm256_movemask_epi8(_mm256_or_si256(_mm256_cmpeq_epi8(block, quote), _mm256_cmpeq_epi8(block, backslash))));
    if (hits != 0) {
      const char* found = text + __builtin_ctz(hits);
      return found < end ? found : end;
    }
  }
  return end;
#else
  while (text < end && *text != '"' && *text != '\\') ++text;
  return text;
#endif
}

}  // namespace

RecordParser::RecordParser(RecordSchema schema, bool canonical_path)
    : schema_(std::move(schema)),
      slots_(schema_.fields.size()),
      table_schema_(schema_.table_schema()),
      id_lookup_(schema_.fields.size()) {
  for (std::size_t i = 0; i < schema_.fields.size(); ++i) {
    const FieldSpec& field = schema_.fields[i];
    types_.push_back(field.type);
    if (field.required) required_.push_back(i);
    // Names and aliases in the order the key lookup has always tried them: the first wins.
    const auto add = [&](const std::string& text) {
      for (const KeySpelling& existing : spellings_)
        if (existing.text == text) return;
      KeySpelling spelling;
      spelling.text = text;
      spelling.field = static_cast<int>(i);
      if (text.size() + 1 <= sizeof spelling.word && text.find_first_of("\\\"") == std::string::npos) {
        char bytes[sizeof spelling.word] = {};
        char mask[sizeof spelling.word] = {};
        std::memcpy(bytes, text.data(), text.size());
        bytes[text.size()] = '"';
        std::memset(mask, 0xff, text.size() + 1);
        spelling.words = static_cast<int>((text.size() + 1 + 7) / 8);
        std::memcpy(spelling.word, bytes, sizeof bytes);
        std::memcpy(spelling.mask, mask, sizeof mask);
      }
      spellings_.push_back(std::move(spelling));
    };
    add(field.name);
    for (const auto& alias : field.aliases) add(alias);
  }
  std::size_t size = 16;
  while (size < 2 * spellings_.size()) size *= 2;
  key_table_.assign(size, -1);
  key_table_mask_ = size - 1;
  for (std::size_t s = 0; s < spellings_.size(); ++s) {
    std::size_t at = key_hash(spellings_[s].text) & key_table_mask_;
    while (key_table_[at] >= 0) at = (at + 1) & key_table_mask_;
    key_table_[at] = static_cast<int>(s);
  }
  predicted_.assign(schema_.fields.size() + 1, -1);
  if (canonical_path) {
    std::vector<std::string> claimed;  // a spelling belongs to the first field that has it, as above
    for (std::size_t i = 0; i < schema_.fields.size() && canonical_path; ++i) {
      const FieldSpec& field = schema_.fields[i];
      CanonicalStep step;
      step.type = field.type;
      step.required = field.required;
      std::vector<std::string> names = {field.name};
      names.insert(names.end(), field.aliases.begin(), field.aliases.end());
      for (const std::string& name : names) {
        if (std::find(claimed.begin(), claimed.end(), name) != claimed.end()) continue;
        claimed.push_back(name);
        const std::string literal = std::string(i == 0 ? "{\"" : ",\"") + name + "\":";
        CanonicalKey key;
        if (literal.size() > sizeof key.word || name.find_first_of("\\\"") != std::string::npos) {
          canonical_path = false;  // a key this scanner cannot compare raw: no canonical path
          break;
        }
        key.length = literal.size();
        key.words = static_cast<int>((literal.size() + 7) / 8);
        char bytes[sizeof key.word] = {};
        char mask[sizeof key.word] = {};
        std::memcpy(bytes, literal.data(), literal.size());
        std::memset(mask, 0xff, literal.size());
        std::memcpy(key.word, bytes, sizeof bytes);
        std::memcpy(key.mask, mask, sizeof mask);
        step.keys.push_back(key);
      }
      if (step.keys.empty()) canonical_path = false;
      canonical_.push_back(std::move(step));
    }
    if (schema_.fields.size() > 64) canonical_path = false;  // `seen` is one 64-bit mask
    if (!canonical_path) canonical_.clear();
    for (std::size_t i = 0; i < canonical_.size(); ++i)
      if (canonical_[i].required) canonical_required_ |= std::uint64_t{1} << i;
    canonical_values_.resize(canonical_.size());
  }
}

void RecordParser::store_as_id(std::size_t field, const StringKeyIndex& index) {
  if (field >= schema_.fields.size() || schema_.fields[field].type != ColumnType::String ||
      !schema_.fields[field].required || schema_.fields[field].accepts_number)
    throw std::invalid_argument("store_as_id: field " + std::to_string(field) + " is not a required string field");
  id_lookup_[field].emplace(index);
  table_schema_[field].type = ColumnType::Int64;
}

// `p` has at least length + 1 bytes of the line and 48 readable bytes (the line's padding).
inline bool RecordParser::CanonicalKey::matches(const char* p) const {
  for (int w = 0; w < words; ++w)
    if ((load_word(p + 8 * w) & mask[w]) != word[w]) return false;
  return true;
}

namespace {

using json_scan::find_string_stop;

// Per byte of `word` (in memory order): nonzero bits (in its high nibble) when the byte is no ASCII
// digit, exact up to and including the first such byte. A digit is 0x30-0x39: its high nibble is 3,
// and still 3 after adding 6; adding 6 to a byte can carry into the next one only from a byte that
// is no digit, so only the bytes after the first non-digit may be off.
inline std::uint64_t non_digit_bits(std::uint64_t word) {
  constexpr std::uint64_t kHigh = 0xF0F0F0F0F0F0F0F0ull, kThrees = 0x3030303030303030ull;
  return ((word & kHigh) ^ kThrees) | (((word + 0x0606060606060606ull) & kHigh) ^ kThrees);
}

inline bool is_digit_byte(char c) {
  return static_cast<unsigned char>(c - '0') < 10;
}

// How many of the 8 bytes of `word` are digits before the first other byte.
inline int leading_digits(std::uint64_t word) {
  const std::uint64_t other = non_digit_bits(word);
  return other == 0 ? 8 : __builtin_ctzll(other) / 8;
}

// The value of the first `count` (1..8) bytes of `word`, all digits: moved to the top of the word
// (leading zero digits below them), then the SWAR conversion of eight digits (as simdjson's
// parse_eight_digits_unrolled): pairs, then quads, then the eight.
inline std::uint64_t digits_value(std::uint64_t word, int count) {
  std::uint64_t value = (word - 0x3030303030303030ull) << (8 * (8 - count));
  value = (value * 10) + (value >> 8);
  value = (((value & 0x000000FF000000FFull) * 0x000F424000000064ull) +
           (((value >> 16) & 0x000000FF000000FFull) * 0x0000271000000001ull)) >>
          32;
  return value;
}

// 10^n for the n (0..8) digits of one word.
constexpr std::uint64_t kScale[] = {1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000};

// Reads the digits at q (at most `limit` of them, and none at or past `end`), eight at a time, into
// `value`; returns how many there were (limit + 1 when there are more). Reads 8 bytes past each
// group: the line's padding.
inline std::ptrdiff_t read_digits(const char*& q, const char* end, std::ptrdiff_t limit, std::uint64_t& value) {
  std::ptrdiff_t count = 0;
  while (true) {
    int n = leading_digits(load_word(q));
    n = static_cast<int>(std::min<std::ptrdiff_t>(n, end - q));
    if (n == 0) return count;
    if (count + n > limit) return limit + 1;
    value = value * kScale[n] + digits_value(load_word(q), n);
    q += n;
    count += n;
    if (n < 8) return count;
  }
}

// A canonical integer at p: -?(0|[1-9][0-9]*) with at most 18 digits (so it fits), not -0, or an
// integral float (below). Leaves p after it; what follows is checked by the caller (an 'e' there
// makes the line not canonical).
inline bool read_canonical_int(const char*& p, const char* end, std::int64_t& value) {
  const char* q = p;
  const bool negative = q < end && *q == '-';
  q += negative;
  const char* const digits = q;
  std::uint64_t magnitude = 0;
  std::ptrdiff_t count = 0;
  // Up to 15 digits (an epoch-ms time has 13) from two 8-byte words without a loop; longer or cut
  // off by the line's end, digit group by digit group.
  const std::uint64_t first = load_word(q), first_other = non_digit_bits(first);
  if (first_other != 0) {
    count = __builtin_ctzll(first_other) / 8;
    if (count > 0) magnitude = digits_value(first, static_cast<int>(count));
  } else if (const std::uint64_t second = load_word(q + 8), second_other = non_digit_bits(second); second_other != 0) {
    const int more = __builtin_ctzll(second_other) / 8;
    magnitude = digits_value(first, 8) * kScale[more] + (more > 0 ? digits_value(second, more) : 0);
    count = 8 + more;
  }
  if (count > 0 && q + count <= end) {
    q += count;
  } else {
    q = digits;
    magnitude = 0;
    count = read_digits(q, end, 18, magnitude);
  }
  if (count == 0 || count > 18 || (*digits == '0' && count > 1) || (negative && magnitude == 0)) return false;
  // An integral float ("1655226713698.0"), as exports often write times: 1 to 7 zeros after the
  // point. Up to 15 digits the double is exact, so the integer is the value simdjson's double
  // gives; anything else after the point is not canonical.
  if (q < end && *q == '.') {
    const std::uint64_t other = load_word(q + 1) ^ 0x3030303030303030ull;  // zero bytes: '0's
    const int zeros = other == 0 ? 8 : __builtin_ctzll(other) / 8;
    if (count > 15 || zeros == 0 || zeros == 8 || q + 1 + zeros > end || is_digit_byte(q[1 + zeros])) return false;
    q += 1 + zeros;
  }
  value = negative ? -static_cast<std::int64_t>(magnitude) : static_cast<std::int64_t>(magnitude);
  p = q;
  return true;
}

// A canonical number at p: -?(0|[1-9][0-9]*)(\.[0-9]+)? with at most 15 digits in all (the digits
// as one integer m < 2^53, and f <= 15 of them after the point), not -0. Its value m / 10^f is
// exact arithmetic on exact doubles, correctly rounded: the double simdjson (or any correct parser)
// reads. An exponent makes the line not canonical (the caller sees the 'e').
inline bool read_canonical_double(const char*& p, const char* end, double& value) {
  static constexpr double kPowersOfTen[] = {1e0, 1e1, 1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                            1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15};
  const char* q = p;
  const bool negative = q < end && *q == '-';
  q += negative;
  const auto finish = [&](std::uint64_t mantissa, std::ptrdiff_t fraction) {
    double number = static_cast<double>(mantissa);  // exact: mantissa < 10^15 < 2^53
    if (fraction > 0) number /= kPowersOfTen[fraction];
    value = negative ? -number : number;
  };
  // The common case first: the whole number, its point and the first byte after it in one 8-byte
  // word ("0.296," or "251}"), read with one digit mask and one conversion.
  if (const std::uint64_t word = load_word(q), other = non_digit_bits(word); other != 0) {
    const int whole = __builtin_ctzll(other) / 8;
    if (whole > 0 && (q[0] != '0' || whole == 1)) {
      if (q[whole] != '.') {
        const std::uint64_t mantissa = digits_value(word, whole);
        if (q + whole <= end && !(negative && mantissa == 0)) {
          finish(mantissa, 0);
          p = q + whole;
          return true;
        }
      } else if (const std::uint64_t rest = other & ~(std::uint64_t{0xFF} << (8 * whole)); rest != 0) {
        const int stop = __builtin_ctzll(rest) / 8;  // the first byte after the fraction's digits
        const int fraction = stop - whole - 1;
        if (fraction > 0 && q + stop <= end) {
          // The digits without the point: those before it, then those after it moved down a byte.
          const std::uint64_t digits_only =
              (word & ((std::uint64_t{1} << (8 * whole)) - 1)) | ((word >> (8 * (whole + 1))) << (8 * whole));
          const std::uint64_t mantissa = digits_value(digits_only, stop - 1);
          if (!(negative && mantissa == 0)) {
            finish(mantissa, fraction);
            p = q + stop;
            return true;
          }
        }
      }
    }
  }
  // Any other form, digit by digit group.
  const char* const digits = q;
  std::uint64_t mantissa = 0;
  const std::ptrdiff_t whole = read_digits(q, end, 15, mantissa);
  if (whole == 0 || whole > 15 || (*digits == '0' && whole > 1)) return false;
  std::ptrdiff_t fraction = 0;
  if (q < end && *q == '.') {
    ++q;
    fraction = read_digits(q, end, 15 - whole, mantissa);
    if (fraction == 0 || whole + fraction > 15) return false;
  }
  if (negative && mantissa == 0) return false;
  finish(mantissa, fraction);
  p = q;
  return true;
}

}  // namespace

template <bool kAppend>
bool RecordParser::take_canonical(const char* p, const char* const end, Table& table) {
  // Locals, not members: the stores below (chars among them) could alias the members, so the
  // compiler would reload every member on every step.
  CanonicalStep* const steps = canonical_.data();
  CanonicalValue* const values = canonical_values_.data();
  const std::size_t fields = canonical_.size();
  for (std::size_t k = 0; k < fields; ++k) {
    CanonicalStep& step = steps[k];
    // The key and at least one byte after it lie in the line (the words may read padding).
    const auto left = static_cast<std::size_t>(end - p);
    const CanonicalKey* key = &step.keys[step.last];
    if (left <= key->length || !key->matches(p)) {
      key = nullptr;
      for (std::size_t s = 0; s < step.keys.size() && key == nullptr; ++s)
        if (s != step.last && left > step.keys[s].length && step.keys[s].matches(p)) {
          key = &step.keys[s];
          step.last = s;
        }
      if (key == nullptr) return false;
    }
    p += key->length;
    CanonicalValue& value = values[k];
    switch (step.type) {
      case ColumnType::Int64:
        if (!read_canonical_int(p, end, value.int_value)) return false;
        break;
      case ColumnType::Float64:
        if (!read_canonical_double(p, end, value.float_value)) return false;
        break;
      case ColumnType::String: {
        if (*p != '"') return false;
        const char* const close = find_string_stop(p + 1, end);
        if (close >= end || *close != '"') return false;
        value.text = {p + 1, static_cast<std::size_t>(close - p - 1)};
        if (step.required && value.text.size == 0) return false;  // parse() rejects it, with its reason
        p = close + 1;
        break;
      }
    }
  }
  if (end - p != 1 || *p != '}') return false;
  if constexpr (kAppend) {
    std::optional<StringRunLookup>* const id_lookup = id_lookup_.data();
    for (std::size_t k = 0; k < fields; ++k) {
      const CanonicalValue& value = values[k];
      switch (steps[k].type) {
        case ColumnType::Int64: table.ints(k).push_back(value.int_value); break;
        case ColumnType::Float64: table.floats(k).push_back(value.float_value); break;
        case ColumnType::String: {
          const std::string_view text(value.text.data, value.text.size);
          if (id_lookup[k])
            table.ints(k).push_back(id_lookup[k]->find(text));
          else
            table.strings(k).push_back(text);
          break;
        }
      }
    }
    table.commit_row();
  }
  return true;
}

namespace {

// Steps over a canonical scalar at p (the value of a key nobody reads): a string of printable ASCII
// without escapes, a canonical number, true, false or null; what parse() accepts there too.
inline bool skip_canonical_scalar(const char*& p, const char* end) {
  const auto literal = [&](std::string_view word) {
    if (static_cast<std::size_t>(end - p) < word.size() || std::memcmp(p, word.data(), word.size()) != 0) return false;
    p += word.size();
    return true;
  };
  switch (*p) {
    case '"': {
      const char* const close = find_string_stop(p + 1, end);
      if (close >= end || *close != '"') return false;
      p = close + 1;
      return true;
    }
    case 't': return literal("true");
    case 'f': return literal("false");
    case 'n': return literal("null");
    default: {
      double ignored;
      return read_canonical_double(p, end, ignored);
    }
  }
}

}  // namespace

template <bool kAppend>
bool RecordParser::take_canonical_any_order(const char* p, const char* const end, Table& table) {
  // take_canonical for a line whose keys come in another order or include keys nobody reads (with
  // scalar values); a missing field that is not required is NULL, as in parse(). Its value reading
  // and appends repeat take_canonical's on purpose: one shared function measured 5-10 % slower on
  // take_canonical's hot path (BM_RecordParserLines).
  CanonicalStep* const steps = canonical_.data();
  CanonicalValue* const values = canonical_values_.data();
  const std::size_t fields = canonical_.size();
  if (end - p < 2 || *p != '{') return false;
  ++p;
  std::uint64_t seen = 0;  // bit k: field k was read
  for (bool first = true;; first = false) {
    if (*p == '}') break;
    if (!first) {
      if (*p != ',') return false;
      ++p;
    }
    // The key, read and looked up among every field's spellings.
    if (*p != '"') return false;
    const char* const close = find_string_stop(p + 1, end);
    if (close + 2 >= end || *close != '"' || close[1] != ':') return false;
    const int spelling = spelling_for_key(std::string_view(p + 1, static_cast<std::size_t>(close - p - 1)));
    p = close + 2;
    if (spelling < 0) {  // a key nobody reads: its value must be valid, and is skipped
      if (!skip_canonical_scalar(p, end)) return false;
      continue;
    }
    const auto k = static_cast<std::size_t>(spellings_[static_cast<std::size_t>(spelling)].field);
    if (k >= fields || (seen >> k & 1u) != 0) return false;  // a duplicate: parse() says so
    seen |= std::uint64_t{1} << k;
    const CanonicalStep& step = steps[k];
    CanonicalValue& value = values[k];
    switch (step.type) {
      case ColumnType::Int64:
        if (!read_canonical_int(p, end, value.int_value)) return false;
        break;
      case ColumnType::Float64:
        if (!read_canonical_double(p, end, value.float_value)) return false;
        break;
      case ColumnType::String: {
        if (*p != '"') return false;
        const char* const close = find_string_stop(p + 1, end);
        if (close >= end || *close != '"') return false;
        value.text = {p + 1, static_cast<std::size_t>(close - p - 1)};
        if (step.required && value.text.size == 0) return false;  // parse() rejects it, with its reason
        p = close + 1;
        break;
      }
    }
    if (p >= end) return false;
  }
  // p is at the closing brace: it must end the line, and every required field must be there.
  if (end - p != 1 || (seen & canonical_required_) != canonical_required_) return false;
  if constexpr (kAppend) {
    std::optional<StringRunLookup>* const id_lookup = id_lookup_.data();
    for (std::size_t k = 0; k < fields; ++k) {
      const CanonicalValue& value = values[k];
      const bool present = (seen >> k & 1u) != 0;  // a missing field is NULL, as in parse()
      switch (steps[k].type) {
        case ColumnType::Int64: table.ints(k).push_back(present ? value.int_value : kNullInt64); break;
        case ColumnType::Float64:
          table.floats(k).push_back(present ? value.float_value : std::numeric_limits<double>::quiet_NaN());
          break;
        case ColumnType::String: {
          const std::string_view text =
              present ? std::string_view(value.text.data, value.text.size) : std::string_view{};
          if (id_lookup[k])
            table.ints(k).push_back(id_lookup[k]->find(text));
          else
            table.strings(k).push_back(text);
          break;
        }
      }
    }
    table.commit_row();
  }
  return true;
}

// `raw` points just after the opening quote of a key inside the line, with at least 32 readable
// bytes after it (the line's padding). True when the key is exactly this spelling: its bytes then
// the closing quote. A spelling holds no quote or backslash, so the key has no escapes.
inline bool RecordParser::KeySpelling::matches_raw(const char* raw) const {
  if (words == 0) return false;
  for (int w = 0; w < words; ++w)
    if ((load_word(raw + 8 * w) & mask[w]) != word[w]) return false;
  return true;
}

int RecordParser::spelling_for_key(std::string_view key) const {
  for (std::size_t at = key_hash(key) & key_table_mask_;; at = (at + 1) & key_table_mask_) {
    const int s = key_table_[at];
    if (s < 0 || spellings_[static_cast<std::size_t>(s)].text == key) return s;
  }
}

// The general path for one value: reads `value` for field `index` by the value's JSON type and
// says exactly what is wrong when it does not fit. parse() tries the expected type first and comes
// here only when that fails without consuming the value.
bool RecordParser::read_value(std::size_t index, od::value value, std::string& reason) {
  const FieldSpec& field = schema_.fields[index];
  Slot& slot = slots_[index];
  // The slot is still null for this line (each field is read at most once per line): a null value
  // leaves it so, a value marks it set.
  const auto set = [&] { slot.set = generation_; };
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
  if (type == od::json_type::null) return true;
  switch (field.type) {
    case ColumnType::Int64: {
      if (type == od::json_type::string) {
        std::string_view text;
        if (auto error = value.get_string().get(text)) return (reason = simdjson_reason(error)), false;
        if (text.empty()) return true;
        if (!parse_decimal_int64(text, slot.int_value))
          return (reason = "field '" + field.name + "' is a string that is not a decimal integer"), false;
        set();
        return true;
      }
      if (type != od::json_type::number) return wrong_type("an integer");
      if (const std::string problem = read_integral(value, slot.int_value); !problem.empty())
        return (reason = "field '" + field.name + "' is " + problem), false;
      set();
      return true;
    }
    case ColumnType::Float64: {
      if (type != od::json_type::number) return wrong_type("a number");
      // get_double also reads integers beyond 64 bits (1e30 written out), which get_number refuses.
      if (auto error = value.get_double().get(slot.float_value))
        return (reason =
                    "field '" + field.name + "' is a number out of range (" + simdjson::error_message(error) + ")"),
               false;
      set();
      return true;
    }
    case ColumnType::String: {
      if (type == od::json_type::number && field.accepts_number) {
        std::int64_t integer = 0;
        if (const std::string problem = read_integral(value, integer); !problem.empty())
          return (reason = "field '" + field.name + "' is " + problem), false;
        char digits[24];
        const auto written = std::to_chars(digits, digits + sizeof digits, integer);
        slot.number_text.assign(digits, written.ptr);
        slot.string_value = slot.number_text;
        set();
        return true;
      }
      if (type != od::json_type::string) return wrong_type("a string");
      std::string_view text;
      if (auto error = value.get_string().get(text)) return (reason = simdjson_reason(error)), false;
      // HDF5 fixed-length strings are NUL-padded: an embedded NUL would silently cut the value.
      if (text.find('\0') != std::string_view::npos)
        return (reason = "field '" + field.name + "' contains a NUL character"), false;
      slot.string_value = text;
      if (!text.empty()) set();
      return true;
    }
  }
  return false;
}

namespace {

// The line without trailing '\r', ' ', '\t' and leading ' ', '\t': [first, length); blank when empty.
void trim_line(const char* data, std::size_t& first, std::size_t& length) {
  while (length > 0 && (data[length - 1] == '\r' || data[length - 1] == ' ' || data[length - 1] == '\t')) --length;
  first = 0;
  while (first < length && (data[first] == ' ' || data[first] == '\t')) ++first;
}

}  // namespace

LineOutcome RecordParser::parse(const char* data, std::size_t length, std::size_t capacity, Table& table,
                                std::string& reason) {
  std::size_t first = 0;
  trim_line(data, first, length);
  if (first == length) return LineOutcome::Blank;

  od::document document;
  if (auto error = parser_.iterate(data, length, capacity).get(document)) {
    ++generation_;
    reason = simdjson_reason(error);
    return LineOutcome::Rejected;
  }
  return parse_document(document, data + length, true, table, reason);
}

template <bool kAppend>
bool RecordParser::take_canonical_line(const char* p, const char* end, Table& table) {
  return take_canonical<kAppend>(p, end, table) || take_canonical_any_order<kAppend>(p, end, table);
}

std::size_t RecordParser::take_canonical_lines(const char* data, std::span<const Line> lines, Table& table,
                                               LinesResult& result) {
  std::size_t i = 0;
  for (; i < lines.size(); ++i) {
    const char* const text = data + lines[i].start;
    std::size_t first = 0, length = lines[i].length;
    trim_line(text, first, length);
    if (first == length) {
      ++result.blank;
      continue;
    }
    if (!take_canonical_line<true>(text + first, text + length, table)) break;
    ++result.accepted;
    ++canonical_lines_;
  }
  return i;
}

RecordParser::LinesResult RecordParser::parse_lines(
    const char* data, std::size_t capacity, std::span<const Line> lines, Table& table,
    const std::function<void(std::size_t, const std::string&)>& on_reject) {
  LinesResult result;
  std::string reason;
  std::size_t at = 0;  // lines before `at` are done
  const auto parse_one = [&](std::size_t i) {
    const Line& line = lines[i];
    switch (parse(data + line.start, line.length, capacity - line.start, table, reason)) {
      case LineOutcome::Blank: ++result.blank; break;
      case LineOutcome::Accepted: ++result.accepted; break;
      case LineOutcome::Rejected:
        ++result.rejected;
        on_reject(i, reason);
        break;
    }
  };
  // Lines [from, to) through simdjson: runs through parse_run, a run's bad line through parse().
  // A few lines alone (odd lines among canonical ones) go to parse() at once: an iterate_many
  // costs more to start than it saves on them.
  constexpr std::size_t kFewLines = 4;
  const auto through_simdjson = [&](std::size_t from, std::size_t to) {
    if (to - from <= kFewLines && !canonical_.empty()) {
      for (std::size_t i = from; i < to; ++i) parse_one(i);
      return;
    }
    while (from < to) {
      const RunResult run = parse_run(data, lines.subspan(from, to - from), table);
      result.blank += run.blank;
      result.accepted += static_cast<std::int64_t>(run.taken) - run.blank;
      for (std::size_t i = from + run.taken; i < from + run.per_line_end; ++i) parse_one(i);
      from += run.per_line_end;
    }
  };
  if (canonical_.empty()) {
    through_simdjson(0, lines.size());
    return result;
  }
  while (at < lines.size()) {
    at += take_canonical_lines(data, lines.subspan(at), table, result);
    if (at == lines.size()) break;
    // Line `at` is not canonical: it and the lines after it up to the next canonical one (blank
    // lines included) go through simdjson together, so data that is never canonical still gets
    // runs of iterate_many.
    std::size_t next = at + 1;
    while (next < lines.size()) {
      const char* const text = data + lines[next].start;
      std::size_t first = 0, length = lines[next].length;
      trim_line(text, first, length);
      if (first < length && take_canonical_line<false>(text + first, text + length, table)) break;
      ++next;
    }
    through_simdjson(at, next);
    at = next;
  }
  return result;
}

RecordParser::RunResult RecordParser::parse_run(const char* data, std::span<const Line> lines, Table& table) {
  RunResult result;
  if (lines.empty()) return result;
  // The window: whole lines, at least one, up to run_bytes_ from the first line's start.
  const std::size_t window_start = lines.front().start;
  std::size_t window = 0;
  run_lines_.clear();
  run_begin_.clear();
  run_end_.clear();
  while (window < lines.size() &&
         (window == 0 || lines[window].start + lines[window].length - window_start <= run_bytes_)) {
    std::size_t first = 0, length = lines[window].length;
    trim_line(data + lines[window].start, first, length);
    if (first < length) {
      run_lines_.push_back(window);
      run_begin_.push_back(lines[window].start + first);
      run_end_.push_back(lines[window].start + length);
    }
    ++window;
  }
  const auto blanks_before = [&](std::size_t end_line) {
    std::int64_t blank = 0;
    std::size_t k = 0;
    for (std::size_t i = 0; i < end_line; ++i) {
      if (k < run_lines_.size() && run_lines_[k] == i)
        ++k;
      else
        ++blank;
    }
    return blank;
  };
  if (run_lines_.empty()) {  // only blank lines
    result.taken = result.per_line_end = window;
    result.blank = static_cast<std::int64_t>(window);
    return result;
  }
  const std::size_t rows_before = table.num_rows();
  // Gives up at non-blank line k: lines before `keep_docs` documents are taken, their rows kept; the
  // rest up to and including non-blank line `through` (or the window's end) go to parse().
  const auto give_up = [&](std::size_t keep_docs, std::size_t through) {
    table.truncate_rows(rows_before + keep_docs);
    result.taken = keep_docs == 0 ? 0 : run_lines_[keep_docs - 1] + 1;
    result.per_line_end = through < run_lines_.size() ? run_lines_[through] + 1 : window;
    result.blank = blanks_before(result.taken);
    run_bytes_ = kMinRunBytes;
    return result;
  };
  const std::size_t begin = run_begin_.front(), end = run_end_.back();
  const std::size_t length = end - begin;
  od::document_stream stream;
  // batch_size >= the window: stage 1 runs once, on the whole window (no worker thread). One fixed
  // batch_size: simdjson 3.0 reallocates the parser's buffers whenever it changes.
  if (parser_.iterate_many(data + begin, length, std::max(length, kMaxRunBytes)).get(stream) != simdjson::SUCCESS)
    return give_up(0, run_lines_.size());
  std::size_t k = 0;  // documents seen
  for (auto it = stream.begin(); it != stream.end(); ++it) {
    auto document_result = *it;
    // A document that does not start where non-blank line k does: line k - 1 (which it may belong
    // to) and line k are left to parse().
    if (document_result.error() != simdjson::SUCCESS && k == 0) return give_up(0, run_lines_.size());  // stage 1
    if (document_result.error() != simdjson::SUCCESS || k == run_lines_.size() ||
        begin + it.current_index() != run_begin_[k])
      return give_up(k == 0 ? 0 : k - 1, k);
    od::document_reference document = document_result.value_unsafe();
    if (parse_document(document, data + run_end_[k], false, table, run_reason_) != LineOutcome::Accepted)
      return give_up(k, k);  // document k is line k exactly (it starts there, the previous one ended before)
    ++k;
  }
  // The last document must end in the last line: nothing cut off, no line without a document.
  if (k != run_lines_.size() || stream.truncated_bytes() != 0) return give_up(k == 0 ? 0 : k - 1, run_lines_.size());
  result.taken = result.per_line_end = window;
  result.blank = static_cast<std::int64_t>(window - run_lines_.size());
  run_bytes_ = std::min(kMaxRunBytes, run_bytes_ * 2);
  return result;
}

template <class Document>
LineOutcome RecordParser::parse_document(Document& document, const char* const end, bool check_trailing, Table& table,
                                         std::string& reason) {
  const std::uint64_t generation = ++generation_;  // every slot is now unseen and null
  od::object object;
  if (auto error = document.get_object().get(object)) {
    reason = error == simdjson::INCORRECT_TYPE ? "not a JSON object" : simdjson_reason(error);
    return LineOutcome::Rejected;
  }
  std::size_t previous = 0;  // 1 + the field of the previous known key (0: none yet)
  for (auto field_result : object) {
    if (auto error = field_result.error()) {
      reason = simdjson_reason(error);
      return LineOutcome::Rejected;
    }
    od::field& field = field_result.value_unsafe();
    // The key, by its raw bytes while it has no escapes: first the spelling that followed the
    // previous field last time, then a hashed lookup; an escaped key is unescaped as before.
    const char* const raw = field.key().raw();
    int spelling = predicted_[previous];
    if (spelling < 0 || !spellings_[static_cast<std::size_t>(spelling)].matches_raw(raw)) {
      const char* const close = find_quote_or_backslash(raw, end);
      std::string_view key;
      if (close < end && *close == '"') {
        key = std::string_view(raw, static_cast<std::size_t>(close - raw));
      } else if (auto error = field.unescaped_key().get(key)) {
        reason = simdjson_reason(error);
        return LineOutcome::Rejected;
      }
      spelling = spelling_for_key(key);
      if (spelling < 0) {  // unknown extra key: ignored, but it must still be valid JSON
        if (auto error = validate_value(field.value())) {
          reason = simdjson_reason(error);
          return LineOutcome::Rejected;
        }
        continue;
      }
      predicted_[previous] = spelling;
    }
    const auto index = static_cast<std::size_t>(spellings_[static_cast<std::size_t>(spelling)].field);
    previous = index + 1;
    Slot& slot = slots_[index];
    if (slot.seen == generation) {
      reason = "duplicate key for field '" + schema_.fields[index].name + "'";
      return LineOutcome::Rejected;
    }
    slot.seen = generation;
    const auto take_string = [&](std::string_view text) {
      // HDF5 fixed-length strings are NUL-padded: an embedded NUL would silently cut the value.
      if (std::memchr(text.data(), '\0', text.size()) != nullptr) {
        reason = "field '" + schema_.fields[index].name + "' contains a NUL character";
        return false;
      }
      slot.string_value = text;
      if (!text.empty()) slot.set = generation;
      return true;
    };
    // The expected type first: a failed get_int64 / get_double / get_string (of a non-string)
    // consumes nothing, and read_value then takes the value by its type as it always has.
    od::value& value = field.value();
    switch (types_[index]) {
      case ColumnType::Int64:
        if (value.get_int64().get(slot.int_value) == simdjson::SUCCESS) {
          slot.set = generation;
          continue;
        }
        break;
      case ColumnType::Float64:
        if (value.get_double().get(slot.float_value) == simdjson::SUCCESS) {
          slot.set = generation;
          continue;
        }
        break;
      case ColumnType::String: {
        // A string without escapes is its raw bytes: take them and step over the value (what
        // get_string would copy out of the line).
        const char* const token = value.raw_json_token().data();
        if (*token == '"') {
          const char* const close = find_quote_or_backslash(token + 1, end);
          if (close < end && *close == '"') {
            const std::string_view text(token + 1, static_cast<std::size_t>(close - token - 1));
            if (value.get_raw_json_string().error() == simdjson::SUCCESS) {
              if (!take_string(text)) return LineOutcome::Rejected;
              continue;
            }
          }
        }
        std::string_view text;
        const simdjson::error_code error = value.get_string().get(text);
        if (error == simdjson::SUCCESS) {
          if (!take_string(text)) return LineOutcome::Rejected;
          continue;
        }
        if (error != simdjson::INCORRECT_TYPE) {  // a string that does not unescape (consumed)
          reason = simdjson_reason(error);
          return LineOutcome::Rejected;
        }
        break;
      }
    }
    if (!read_value(index, value, reason)) return LineOutcome::Rejected;
  }
  // After the object only the end of input may follow (simdjson 3.0 has no document::at_end()):
  // current_location() fails with OUT_OF_BOUNDS exactly when nothing is left.
  const char* trailing = nullptr;
  if (check_trailing && document.current_location().get(trailing) == simdjson::SUCCESS) {
    reason = "trailing content after the JSON object";
    return LineOutcome::Rejected;
  }
  for (const std::size_t i : required_) {
    if (slots_[i].set != generation) {
      reason = "missing required field '" + schema_.fields[i].name + "'";
      return LineOutcome::Rejected;
    }
  }
  for (std::size_t i = 0; i < types_.size(); ++i) {
    const Slot& slot = slots_[i];
    const bool is_set = slot.set == generation;
    switch (types_[i]) {
      case ColumnType::Int64: table.ints(i).push_back(is_set ? slot.int_value : kNullInt64); break;
      case ColumnType::Float64:
        table.floats(i).push_back(is_set ? slot.float_value : std::numeric_limits<double>::quiet_NaN());
        break;
      case ColumnType::String:
        if (id_lookup_[i])  // a required field: set
          table.ints(i).push_back(id_lookup_[i]->find(slot.string_value));
        else
          table.strings(i).push_back(is_set ? slot.string_value : std::string_view{});
        break;
    }
  }
  table.commit_row();
  return LineOutcome::Accepted;
}

}  // namespace mpilake
