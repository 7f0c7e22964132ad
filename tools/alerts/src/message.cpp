#include "mpilake/alerts/message.hpp"

#include <openssl/evp.h>

#include <cstdio>
#include <ctime>
#include <limits>
#include <stdexcept>
#include <vector>

namespace mpilake::alerts {

namespace {

bool is_ascii_letter_digit(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

// RFC 5322 atext (the characters of a dot-atom besides the dots).
bool is_atext(char c) {
  if (is_ascii_letter_digit(c)) return true;
  for (const char allowed : std::string_view("!#$%&'*+-/=?^_`{|}~"))
    if (c == allowed) return true;
  return false;
}

std::int64_t floor_div(std::int64_t a, std::int64_t b) {
  return a / b - ((a % b != 0) && ((a < 0) != (b < 0)));
}

std::tm utc_parts(std::int64_t micros) {
  const std::time_t seconds = static_cast<std::time_t>(floor_div(micros, 1000000));
  std::tm parts{};
  gmtime_r(&seconds, &parts);
  return parts;
}

constexpr const char* kWeekdays[] = {"Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"};
constexpr const char* kMonths[] = {"January", "February", "March",     "April",   "May",      "June",
                                   "July",    "August",   "September", "October", "November", "December"};

// Length of the valid UTF-8 sequence at text[i] (0 when invalid): no overlongs, surrogates or
// code points above U+10FFFF.
std::size_t utf8_sequence_length(std::string_view text, std::size_t i) {
  const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(text[k]); };
  const unsigned char lead = byte(i);
  if (lead < 0x80) return 1;
  std::size_t length = 0;
  std::uint32_t code = 0;
  if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2;
    code = lead & 0x1F;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    length = 3;
    code = lead & 0x0F;
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4;
    code = lead & 0x07;
  } else {
    return 0;
  }
  if (i + length > text.size()) return 0;
  for (std::size_t k = 1; k < length; ++k) {
    if ((byte(i + k) & 0xC0) != 0x80) return 0;
    code = (code << 6) | (byte(i + k) & 0x3F);
  }
  if ((length == 3 && (code < 0x800 || (code >= 0xD800 && code <= 0xDFFF))) ||
      (length == 4 && (code < 0x10000 || code > 0x10FFFF)))
    return 0;
  return length;
}

std::string base64(std::string_view bytes) {
  std::vector<unsigned char> out(4 * ((bytes.size() + 2) / 3) + 1);
  const int written =
      EVP_EncodeBlock(out.data(), reinterpret_cast<const unsigned char*>(bytes.data()), static_cast<int>(bytes.size()));
  return std::string(reinterpret_cast<const char*>(out.data()), static_cast<std::size_t>(written));
}

// A display name that may stand in a header as it is: words of atext, single spaces between.
bool is_plain_phrase(std::string_view name) {
  if (name.empty() || name.front() == ' ' || name.back() == ' ') return false;
  for (const char c : name)
    if (c != ' ' && !is_atext(c)) return false;
  return true;
}

std::string number(std::int64_t value) {
  return std::to_string(value);
}

// "06:47:38 UTC".
std::string time_of_day(std::int64_t micros) {
  const std::tm parts = utc_parts(micros);
  char text[32];
  std::snprintf(text, sizeof text, "%02d:%02d:%02d UTC", parts.tm_hour, parts.tm_min, parts.tm_sec);
  return text;
}

}  // namespace

std::string address_problem(std::string_view address) {
  if (address.empty()) return "no email address";
  for (const char c : address) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7F) return "email address holds control characters";
    if (u >= 0x80) return "email address is not ASCII";
  }
  if (address.size() > 254) return "email address is longer than 254 characters";
  const auto at = address.rfind('@');
  if (at == std::string_view::npos || address.find('@') != at) return "email address is not of the form local@domain";
  const std::string_view local = address.substr(0, at);
  const std::string_view domain = address.substr(at + 1);
  if (local.empty() || local.size() > 64 || local.front() == '.' || local.back() == '.' ||
      local.find("..") != std::string_view::npos)
    return "email address has an invalid local part";
  for (const char c : local)
    if (c != '.' && !is_atext(c)) return "email address has an invalid local part";
  std::size_t labels = 0;
  std::size_t start = 0;
  while (start <= domain.size()) {
    const auto dot = domain.find('.', start);
    const std::string_view label = domain.substr(start, dot == std::string_view::npos ? dot : dot - start);
    if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-')
      return "email address has an invalid domain";
    for (const char c : label)
      if (c != '-' && !is_ascii_letter_digit(c)) return "email address has an invalid domain";
    ++labels;
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  if (labels < 2) return "email address has an invalid domain";
  return "";
}

Mailbox parse_mailbox(std::string_view text) {
  Mailbox mailbox;
  for (const char c : text)
    if (c == '\r' || c == '\n') throw std::invalid_argument("the address holds a line break");
  const auto open = text.rfind('<');
  if (open == std::string_view::npos) {
    mailbox.address = std::string(text);
  } else {
    if (text.empty() || text.back() != '>' || text.find('>') != text.size() - 1)
      throw std::invalid_argument("expected ADDRESS or NAME <ADDRESS>");
    mailbox.address = std::string(text.substr(open + 1, text.size() - open - 2));
    std::string name = clean_text(text.substr(0, open));
    if (name.size() >= 2 && name.front() == '"' && name.back() == '"') name = name.substr(1, name.size() - 2);
    mailbox.display_name = clean_text(name);
  }
  const std::string problem = address_problem(mailbox.address);
  if (!problem.empty()) throw std::invalid_argument(problem);
  return mailbox;
}

std::string clean_text(std::string_view text) {
  std::string cleaned;
  cleaned.reserve(text.size());
  bool pending_space = false;
  for (std::size_t i = 0; i < text.size();) {
    const auto u = static_cast<unsigned char>(text[i]);
    if (u < 0x20 || u == 0x7F || u == ' ') {
      pending_space = true;
      ++i;
      continue;
    }
    if (pending_space && !cleaned.empty()) cleaned += ' ';
    pending_space = false;
    const std::size_t length = utf8_sequence_length(text, i);
    if (length == 0) {
      cleaned += "\xEF\xBF\xBD";  // U+FFFD
      ++i;
    } else {
      cleaned.append(text.substr(i, length));
      i += length;
    }
  }
  return cleaned;
}

std::string encode_display_name(std::string_view name) {
  const std::string cleaned = clean_text(name);
  if (cleaned.empty() || is_plain_phrase(cleaned)) return cleaned;
  // Each encoded word "=?UTF-8?B?" + base64 + "?=" stays within 75 characters: at most 45 bytes of
  // text (60 base64 characters), cut only between whole UTF-8 characters.
  constexpr std::size_t kMaxBytes = 45;
  std::string encoded;
  std::size_t start = 0;
  while (start < cleaned.size()) {
    std::size_t end = start;
    while (end < cleaned.size()) {
      const std::size_t length = utf8_sequence_length(cleaned, end);
      if (end + length - start > kMaxBytes) break;
      end += length;
    }
    if (!encoded.empty()) encoded += "\r\n ";
    encoded += "=?UTF-8?B?" + base64(std::string_view(cleaned).substr(start, end - start)) + "?=";
    start = end;
  }
  return encoded;
}

std::string format_mailbox(const Mailbox& mailbox) {
  const std::string name = encode_display_name(mailbox.display_name);
  return name.empty() ? "<" + mailbox.address + ">" : name + " <" + mailbox.address + ">";
}

std::string quoted_printable(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  constexpr std::size_t kMaxLine = 76;
  std::string out;
  std::size_t line_start = 0;
  while (line_start <= text.size()) {
    auto line_end = text.find('\n', line_start);
    const bool last = line_end == std::string_view::npos;
    if (last) line_end = text.size();
    if (last && line_start == line_end) break;  // text ended with "\n"
    const std::string_view line = text.substr(line_start, line_end - line_start);
    std::string current;
    for (std::size_t i = 0; i < line.size(); ++i) {
      const auto u = static_cast<unsigned char>(line[i]);
      const bool at_end = i + 1 == line.size();
      std::string piece;
      const bool literal =
          (u >= 33 && u <= 126 && u != '=' && !(u == '.' && i == 0)) || ((u == ' ' || u == '\t') && !at_end);
      if (literal) {
        piece = static_cast<char>(u);
      } else {
        piece = {'=', kHex[u >> 4], kHex[u & 15]};
      }
      // A soft break "=" must fit too, except on the line's last piece.
      const std::size_t limit = at_end ? kMaxLine : kMaxLine - 1;
      if (current.size() + piece.size() > limit) {
        out += current + "=\r\n";
        current.clear();
        // A dot that now starts a line is encoded, like one at the start of the text's line.
        if (piece == ".") piece = "=2E";
      }
      current += piece;
    }
    out += current + "\r\n";
    if (last) break;
    line_start = line_end + 1;
  }
  return out;
}

std::string rfc5322_date(std::int64_t micros) {
  const std::tm parts = utc_parts(micros);
  char text[64];
  std::snprintf(text, sizeof text, "%.3s, %02d %.3s %04d %02d:%02d:%02d +0000", kWeekdays[parts.tm_wday], parts.tm_mday,
                kMonths[parts.tm_mon], parts.tm_year + 1900, parts.tm_hour, parts.tm_min, parts.tm_sec);
  return text;
}

std::string human_utc(std::int64_t micros) {
  const std::tm parts = utc_parts(micros);
  char text[96];
  std::snprintf(text, sizeof text, "%s %d %s %04d at %02d:%02d UTC", kWeekdays[parts.tm_wday], parts.tm_mday,
                kMonths[parts.tm_mon], parts.tm_year + 1900, parts.tm_hour, parts.tm_min);
  return text;
}

std::string alert_message_id(std::string_view run_id, std::int64_t ride_id) {
  return "<heart-rate-alert." + number(ride_id) + "." + std::string(run_id) + "@deloton.mpilake.invalid>";
}

std::string alert_body(const AlertRow& row) {
  const std::string name = clean_text(row.first_name);
  const bool high = row.kind == "high";
  const std::int64_t ride_start =
      row.ride_start == std::numeric_limits<std::int64_t>::min() ? row.alert_time : row.ride_start;
  std::string body;
  body += name.empty() ? "Hello,\n" : "Hello " + name + ",\n";
  body += "\n";
  body += "Your heart rate " + std::string(high ? "rose to " : "fell to ") + number(row.heart_rate) +
          " beats per minute during your Deloton ride.\n";
  body += "The ride started on " + human_utc(ride_start) + "; the alert\n";
  body += "was raised at " + time_of_day(row.alert_time) + ".\n";
  body += "\n";
  body += "That is " + std::string(high ? "above" : "below") + " the safe range for you: " + number(row.hr_lower) +
          " to " + number(row.hr_upper) + " beats per minute\n";
  body += "(for your age, " + number(row.age) + ", and the gender in your Deloton profile).\n";
  body += "\n";
  body += "Please stop exercising now and rest. If you feel unwell - chest pain,\n";
  body += "dizziness, shortness of breath or fainting - call the emergency\n";
  body += "services at once. Whatever you feel, please see a doctor before your\n";
  body += "next ride.\n";
  body += "\n";
  body += "Your heart rate is measured by the bike's sensors and can be wrong;\n";
  body += "a doctor can tell you whether this reading matters for you.\n";
  body += "\n";
  body += "Deloton Health\n";
  body += "(an automatic message; ride reference " + number(row.ride_id) + ")\n";
  return body;
}

AlertMessage build_alert_message(const AlertRow& row, const Mailbox& from, std::string_view run_id,
                                 std::int64_t now_micros) {
  if (!address_problem(row.email).empty())
    throw std::invalid_argument("build_alert_message: unusable email address for ride " + number(row.ride_id));
  AlertMessage message;
  message.message_id = alert_message_id(run_id, row.ride_id);
  message.recipient = row.email;
  const std::int64_t ride_start =
      row.ride_start == std::numeric_limits<std::int64_t>::min() ? row.alert_time : row.ride_start;
  const std::tm parts = utc_parts(ride_start);
  const std::string day = number(parts.tm_mday) + " " + kMonths[parts.tm_mon] + " " + number(parts.tm_year + 1900);
  std::string& text = message.text;
  text += "From: " + format_mailbox(from) + "\r\n";
  text += "To: " + format_mailbox(Mailbox{row.first_name, row.email}) + "\r\n";
  text += "Subject: Heart-rate alert from your Deloton ride on " + day + "\r\n";
  text += "Date: " + rfc5322_date(now_micros) + "\r\n";
  text += "Message-ID: " + message.message_id + "\r\n";
  text += "Auto-Submitted: auto-generated\r\n";
  text += "MIME-Version: 1.0\r\n";
  text += "Content-Type: text/plain; charset=UTF-8\r\n";
  text += "Content-Transfer-Encoding: quoted-printable\r\n";
  text += "\r\n";
  text += quoted_printable(alert_body(row));
  return message;
}

}  // namespace mpilake::alerts
