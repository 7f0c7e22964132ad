#include "mpilake/serve/target.hpp"

namespace mpilake::serve {

namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool all_digits(std::string_view text) {
  if (text.empty()) return false;
  for (char c : text)
    if (c < '0' || c > '9') return false;
  return true;
}

std::string shown(std::string_view text) {  // for messages: short, printable
  std::string out;
  for (char c : text.substr(0, 40)) out += (c >= 0x20 && c < 0x7f) ? c : '?';
  return text.size() > 40 ? out + "..." : out;
}

}  // namespace

std::optional<std::string> percent_decode(std::string_view text, bool plus_is_space) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '%') {
      if (i + 2 >= text.size()) return std::nullopt;
      const int high = hex_value(text[i + 1]), low = hex_value(text[i + 2]);
      if (high < 0 || low < 0) return std::nullopt;
      c = static_cast<char>(high * 16 + low);
      i += 2;
    } else if (c == '+' && plus_is_space) {
      c = ' ';
    }
    const auto byte = static_cast<unsigned char>(c);
    if (byte < 0x20 || byte == 0x7f) return std::nullopt;
    out += c;
  }
  return out;
}

Target parse_target(std::string_view target) {
  if (target.empty() || target[0] != '/') throw BadRequest{"the request target must be an absolute path"};
  if (target.find('#') != std::string_view::npos) throw BadRequest{"the request target holds a fragment ('#')"};
  const std::size_t question = target.find('?');
  const std::string_view path = target.substr(0, question);
  Target out;
  std::size_t start = 1;
  while (start <= path.size() && path.size() > 1) {
    const std::size_t slash = std::min(path.find('/', start), path.size());
    const auto segment = percent_decode(path.substr(start, slash - start), false);
    if (!segment) throw BadRequest{"bad percent-escape or control byte in the path"};
    if (*segment == "." || *segment == "..") throw BadRequest{"'.' and '..' are not allowed in the path"};
    if (segment->empty()) throw BadRequest{"empty segment in the path"};
    if (segment->find('/') != std::string::npos) throw BadRequest{"encoded '/' in the path"};
    out.segments.push_back(*segment);
    start = slash + 1;
  }
  if (question == std::string_view::npos) return out;
  std::string_view query = target.substr(question + 1);
  while (!query.empty()) {
    const std::size_t amp = std::min(query.find('&'), query.size());
    const std::string_view pair = query.substr(0, amp);
    query = amp < query.size() ? query.substr(amp + 1) : std::string_view();
    if (pair.empty()) continue;
    const std::size_t equals = std::min(pair.find('='), pair.size());
    const auto key = percent_decode(pair.substr(0, equals), true);
    const auto value = percent_decode(equals < pair.size() ? pair.substr(equals + 1) : std::string_view(), true);
    if (!key || !value) throw BadRequest{"bad percent-escape or control byte in the query"};
    if (!out.params.emplace(*key, *value).second) throw BadRequest{"query parameter '" + shown(*key) + "' given twice"};
  }
  return out;
}

std::int64_t parse_id(std::string_view text, std::string_view what) {
  if (!all_digits(text) || text.size() > 18)
    throw BadRequest{std::string(what) + " must be a positive integer of at most 18 digits (got '" + shown(text) +
                     "')"};
  std::int64_t value = 0;
  for (char c : text) value = value * 10 + (c - '0');
  if (value < 1) throw BadRequest{std::string(what) + " must be a positive integer (got '" + shown(text) + "')"};
  return value;
}

std::int64_t parse_bounded(std::string_view text, std::string_view what, std::int64_t max) {
  std::int64_t value = 0;
  bool ok = all_digits(text) && text.size() <= 18;
  if (ok)
    for (char c : text) value = value * 10 + (c - '0');
  if (!ok || value > max)
    throw BadRequest{std::string(what) + " must be an integer from 0 to " + std::to_string(max) + " (got '" +
                     shown(text) + "')"};
  return value;
}

}  // namespace mpilake::serve
