// The alert emails' building blocks: address checks, RFC 2047 display names, quoted-printable
// bodies, dates, and whole messages, including header-injection attempts through rider data.
#include "mpilake/alerts/message.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <limits>
#include <string>
#include <vector>

namespace mpilake::alerts {
namespace {

// Splits a message at CRLF; fails on a bare CR or LF.
std::vector<std::string> crlf_lines(const std::string& text) {
  std::vector<std::string> lines;
  std::size_t start = 0;
  while (start < text.size()) {
    const auto end = text.find("\r\n", start);
    EXPECT_NE(end, std::string::npos) << "message does not end with CRLF";
    if (end == std::string::npos) break;
    const std::string line = text.substr(start, end - start);
    EXPECT_EQ(line.find_first_of("\r\n"), std::string::npos) << "bare CR or LF in: " << line;
    lines.push_back(line);
    start = end + 2;
  }
  return lines;
}

// The header block unfolded: one entry per header field.
std::vector<std::string> header_fields(const std::string& text) {
  std::vector<std::string> fields;
  for (const auto& line : crlf_lines(text)) {
    if (line.empty()) break;
    if (line[0] == ' ' || line[0] == '\t') {
      EXPECT_FALSE(fields.empty());
      if (!fields.empty()) fields.back() += line;
    } else {
      fields.push_back(line);
    }
  }
  return fields;
}

// Minimal decoders written for the test (independent of the code under test).
std::string decode_qp(const std::string& encoded) {
  std::string out;
  for (std::size_t i = 0; i < encoded.size(); ++i) {
    if (encoded[i] == '=') {
      if (encoded.compare(i + 1, 2, "\r\n") == 0) {
        i += 2;
        continue;
      }
      out += static_cast<char>(std::stoi(encoded.substr(i + 1, 2), nullptr, 16));
      i += 2;
    } else if (encoded.compare(i, 2, "\r\n") == 0) {
      out += '\n';
      ++i;
    } else {
      out += encoded[i];
    }
  }
  return out;
}

std::string decode_base64(const std::string& text) {
  const std::string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  int bits = 0, buffer = 0;
  for (const char c : text) {
    if (c == '=') break;
    buffer = (buffer << 6) | static_cast<int>(alphabet.find(c));
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((buffer >> bits) & 0xFF);
    }
  }
  return out;
}

// Decodes a run of =?UTF-8?B?...?= words separated by folding white space.
std::string decode_words(const std::string& header_value) {
  std::string out;
  std::size_t pos = 0;
  while ((pos = header_value.find("=?UTF-8?B?", pos)) != std::string::npos) {
    const auto end = header_value.find("?=", pos + 10);
    out += decode_base64(header_value.substr(pos + 10, end - pos - 10));
    pos = end + 2;
  }
  return out;
}

AlertRow sample_row() {
  AlertRow row;
  row.ride_id = 17;
  row.user_id = 156;
  row.bike = "requez v1";
  row.alert_time = 1664606858586590;  // 2022-10-01 06:47:38 UTC
  row.kind = "low";
  row.heart_rate = 37;
  row.hr_lower = 45;
  row.hr_upper = 185;
  row.age = 24;
  row.gender = "female";
  row.email = "miss.claire51@hotmail.com";
  row.first_name = "Claire";
  row.ride_start = 1664606700000000;  // 06:45:00 UTC
  return row;
}

const Mailbox kFrom{"Deloton Health", "alerts@deloton.invalid"};

TEST(AlertAddress, AcceptsOrdinaryAddresses) {
  for (const char* ok : {"a@b.co", "miss.claire51@hotmail.com", "first+tag@mail.example.org", "o'brien@x-y.ie"})
    EXPECT_EQ(address_problem(ok), "") << ok;
}

TEST(AlertAddress, RejectsEmptyInvalidAndInjected) {
  EXPECT_EQ(address_problem(""), "no email address");
  EXPECT_EQ(address_problem("a@b.com\r\nBcc: all@evil.com"), "email address holds control characters");
  EXPECT_EQ(address_problem("a@b.com\n"), "email address holds control characters");
  EXPECT_EQ(address_problem("zoë@example.com"), "email address is not ASCII");
  for (const char* bad :
       {"no-at-sign", "two@@x.com", "a@b@c.com", "@x.com", "a@", "a@localhost", "a b@x.com", ".a@x.com", "a.@x.com",
        "a..b@x.com", "a@-x.com", "a@x..com", "<a@x.com>", "a@x.com>", "\"a\"@x.com", "a,b@x.com", "a@x_y.com"})
    EXPECT_NE(address_problem(bad), "") << bad;
  EXPECT_NE(address_problem(std::string(65, 'a') + "@x.com"), "");
}

TEST(AlertMailbox, ParsesFromValues) {
  const Mailbox plain = parse_mailbox("alerts@deloton.com");
  EXPECT_EQ(plain.address, "alerts@deloton.com");
  EXPECT_EQ(plain.display_name, "");
  const Mailbox named = parse_mailbox("Deloton Health <alerts@deloton.com>");
  EXPECT_EQ(named.display_name, "Deloton Health");
  EXPECT_EQ(named.address, "alerts@deloton.com");
  EXPECT_EQ(parse_mailbox("\"Deloton, Health\" <a@b.com>").display_name, "Deloton, Health");
  EXPECT_THROW(parse_mailbox("x <a@b.com>\r\nBcc: c@d.com"), std::invalid_argument);
  EXPECT_THROW(parse_mailbox("Name <a@b.com"), std::invalid_argument);
  EXPECT_THROW(parse_mailbox("Name <not an address>"), std::invalid_argument);
  EXPECT_EQ(format_mailbox(named), "Deloton Health <alerts@deloton.com>");
  EXPECT_EQ(format_mailbox(plain), "<alerts@deloton.com>");
}

TEST(AlertText, CleansControlsAndInvalidUtf8) {
  EXPECT_EQ(clean_text("  Ann\r\nBcc: x@y.z \t "), "Ann Bcc: x@y.z");
  EXPECT_EQ(clean_text("Zo\xC3\xAB"), "Zo\xC3\xAB");
  EXPECT_EQ(clean_text("a\xFF"
                       "b"),
            "a\xEF\xBF\xBD"
            "b");
  EXPECT_EQ(clean_text("\xC3"), "\xEF\xBF\xBD");                                  // cut-off sequence
  EXPECT_EQ(clean_text("\xC0\xAF"), "\xEF\xBF\xBD\xEF\xBF\xBD");                  // overlong "/"
  EXPECT_EQ(clean_text("\xED\xA0\x80"), "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");  // surrogate
}

TEST(AlertDisplayName, PlainNamesStayAndOthersAreEncodedWords) {
  EXPECT_EQ(encode_display_name("Claire"), "Claire");
  EXPECT_EQ(encode_display_name("Mary Ann"), "Mary Ann");
  EXPECT_EQ(encode_display_name(""), "");
  const std::string zoe = encode_display_name("Zo\xC3\xAB");
  EXPECT_EQ(zoe, "=?UTF-8?B?Wm/Dqw==?=");
  EXPECT_EQ(decode_words(zoe), "Zo\xC3\xAB");
  // Specials of RFC 5322 are encoded too, so a name cannot add an address or a group.
  for (const char* special : {"O'Brien, Pat", "Ann <x@evil.com>", "a@b", "\"quoted\"", "semi;colon", "(c)"}) {
    const std::string encoded = encode_display_name(special);
    EXPECT_TRUE(encoded.starts_with("=?UTF-8?B?")) << special << " -> " << encoded;
    EXPECT_EQ(encoded.find_first_of("<>@,;\""), std::string::npos) << encoded;
    EXPECT_EQ(decode_words(encoded), special);
  }
}

TEST(AlertDisplayName, InjectionAttemptsCannotBreakTheHeader) {
  const std::string evil = "Ann\r\nBcc: victim@example.com\r\n\r\nbody";
  const std::string encoded = encode_display_name(evil);
  EXPECT_EQ(encoded.find('\n'), std::string::npos);
  EXPECT_EQ(encoded.find('\r'), std::string::npos);
  EXPECT_EQ(decode_words(encoded), "Ann Bcc: victim@example.com body");
}

TEST(AlertDisplayName, LongNamesAreSplitIntoWordsOfAtMost75CharactersOnCharacterBoundaries) {
  std::string name;
  for (int i = 0; i < 40; ++i) name += "\xC3\xA9";  // é, 2 bytes
  name += " \xF0\x9F\x98\x80 end";                  // an emoji, 4 bytes
  const std::string encoded = encode_display_name(name);
  std::size_t start = 0;
  int words = 0;
  while (start < encoded.size()) {
    auto end = encoded.find("\r\n ", start);
    if (end == std::string::npos) end = encoded.size();
    const std::string word = encoded.substr(start, end - start);
    EXPECT_LE(word.size(), 75U) << word;
    // Each word decodes to whole UTF-8 characters on its own.
    EXPECT_EQ(clean_text(decode_words(word)), decode_words(word));
    ++words;
    start = end == encoded.size() ? end : end + 3;
  }
  EXPECT_GE(words, 2);
  EXPECT_EQ(decode_words(encoded), name);
}

TEST(AlertQuotedPrintable, EncodesAndWrapsAndRoundTrips) {
  EXPECT_EQ(quoted_printable("Hello\n"), "Hello\r\n");
  EXPECT_EQ(quoted_printable("a=b\n"), "a=3Db\r\n");
  EXPECT_EQ(quoted_printable("trailing \n"), "trailing=20\r\n");
  EXPECT_EQ(quoted_printable("tab\t\n"), "tab=09\r\n");
  EXPECT_EQ(quoted_printable(".\n"), "=2E\r\n");  // a lone dot would end the SMTP data
  EXPECT_EQ(quoted_printable("Zo\xC3\xAB\n"), "Zo=C3=AB\r\n");
  EXPECT_EQ(quoted_printable("no newline"), "no newline\r\n");
  EXPECT_EQ(quoted_printable("a\r\n"), "a=0D\r\n");  // a CR in the text is data, not a line end
  std::string long_text;
  for (int i = 0; i < 50; ++i) long_text += "\xC3\xA9 word ";
  long_text += "\n.second line\n\n";
  const std::string encoded = quoted_printable(long_text);
  for (const auto& line : crlf_lines(encoded)) {
    EXPECT_LE(line.size(), 76U) << line;
    EXPECT_FALSE(line.starts_with(".")) << line;
    if (!line.empty()) {
      EXPECT_NE(line.back(), ' ') << line;
    }
    for (const char c : line) EXPECT_TRUE((c >= 33 && c <= 126) || c == ' ' || c == '\t') << line;
  }
  EXPECT_EQ(decode_qp(encoded), long_text);
}

TEST(AlertDates, Rfc5322AndHumanReadable) {
  EXPECT_EQ(rfc5322_date(1664606858586590), "Sat, 01 Oct 2022 06:47:38 +0000");
  EXPECT_EQ(human_utc(1664606858586590), "Saturday 1 October 2022 at 06:47 UTC");
  EXPECT_EQ(rfc5322_date(0), "Thu, 01 Jan 1970 00:00:00 +0000");
  EXPECT_EQ(rfc5322_date(-1), "Wed, 31 Dec 1969 23:59:59 +0000");
}

TEST(AlertMessageId, StableAndDistinct) {
  EXPECT_EQ(alert_message_id("abc123", 17), alert_message_id("abc123", 17));
  EXPECT_NE(alert_message_id("abc123", 17), alert_message_id("abc123", 18));
  EXPECT_NE(alert_message_id("abc123", 17), alert_message_id("abc124", 17));
  const std::string id = alert_message_id("abc123", 17);
  EXPECT_TRUE(id.starts_with("<") && id.ends_with(">"));
  EXPECT_EQ(id.find(' '), std::string::npos);
  EXPECT_EQ(std::count(id.begin(), id.end(), '@'), 1);
}

TEST(AlertMessage, HasTheHeadersAndTheBody) {
  const AlertRow row = sample_row();
  const AlertMessage message = build_alert_message(row, kFrom, "run42", 1764590400000000);
  EXPECT_EQ(message.recipient, "miss.claire51@hotmail.com");
  EXPECT_EQ(message.message_id, alert_message_id("run42", 17));
  const auto fields = header_fields(message.text);
  const std::vector<std::string> expected = {"From: Deloton Health <alerts@deloton.invalid>",
                                             "To: Claire <miss.claire51@hotmail.com>",
                                             "Subject: Heart-rate alert from your Deloton ride on 1 October 2022",
                                             "Date: Mon, 01 Dec 2025 12:00:00 +0000",
                                             "Message-ID: " + message.message_id,
                                             "Auto-Submitted: auto-generated",
                                             "MIME-Version: 1.0",
                                             "Content-Type: text/plain; charset=UTF-8",
                                             "Content-Transfer-Encoding: quoted-printable"};
  EXPECT_EQ(fields, expected);
  for (const auto& field : fields) EXPECT_LE(field.size(), 998U);
  const auto body_start = message.text.find("\r\n\r\n") + 4;
  const std::string body = decode_qp(message.text.substr(body_start));
  EXPECT_EQ(body, alert_body(row));
  EXPECT_NE(body.find("Hello Claire,"), std::string::npos);
  EXPECT_NE(body.find("fell to 37 beats per minute"), std::string::npos);
  EXPECT_NE(body.find("below the safe range for you: 45 to 185 beats per minute"), std::string::npos);
  EXPECT_NE(body.find("Saturday 1 October 2022 at 06:45 UTC"), std::string::npos);
  EXPECT_NE(body.find("06:47:38 UTC"), std::string::npos);
  EXPECT_NE(body.find("stop exercising"), std::string::npos);
  EXPECT_NE(body.find("rest"), std::string::npos);
  EXPECT_NE(body.find("see a doctor"), std::string::npos);
  // Only the rider's own first name: no email address, user id or bike in the text.
  EXPECT_EQ(body.find("hotmail"), std::string::npos);
}

TEST(AlertMessage, HighAlertSaysAbove) {
  AlertRow row = sample_row();
  row.kind = "high";
  row.heart_rate = 198;
  const std::string body = alert_body(row);
  EXPECT_NE(body.find("rose to 198 beats per minute"), std::string::npos);
  EXPECT_NE(body.find("above the safe range"), std::string::npos);
}

TEST(AlertMessage, HostileFirstNameStaysInItsPlace) {
  AlertRow row = sample_row();
  row.first_name = "Zo\xC3\xAB\r\nBcc: victim@example.com\r\n\r\nfake body";
  const AlertMessage message = build_alert_message(row, kFrom, "run42", 0);
  const auto fields = header_fields(message.text);
  ASSERT_EQ(fields.size(), 9U);
  for (const auto& field : fields) EXPECT_FALSE(field.starts_with("Bcc")) << field;
  EXPECT_TRUE(fields[1].starts_with("To: =?UTF-8?B?")) << fields[1];
  EXPECT_TRUE(fields[1].ends_with(" <miss.claire51@hotmail.com>")) << fields[1];
  EXPECT_EQ(decode_words(fields[1]), "Zo\xC3\xAB Bcc: victim@example.com fake body");
  const std::string body = decode_qp(message.text.substr(message.text.find("\r\n\r\n") + 4));
  EXPECT_TRUE(body.starts_with("Hello Zo\xC3\xAB Bcc: victim@example.com fake body,\n")) << body;
}

TEST(AlertMessage, EmptyFirstNameAndUnknownRideStart) {
  AlertRow row = sample_row();
  row.first_name = "";
  row.ride_start = std::numeric_limits<std::int64_t>::min();
  const AlertMessage message = build_alert_message(row, Mailbox{"", "a@b.co"}, "r", 0);
  EXPECT_NE(message.text.find("To: <miss.claire51@hotmail.com>\r\n"), std::string::npos);
  EXPECT_NE(message.text.find("From: <a@b.co>\r\n"), std::string::npos);
  EXPECT_TRUE(alert_body(row).starts_with("Hello,\n"));
  EXPECT_NE(alert_body(row).find("Saturday 1 October 2022 at 06:47 UTC"), std::string::npos);
}

TEST(AlertMessage, RefusesAnUnusableAddress) {
  AlertRow row = sample_row();
  row.email = "a@b.com\r\nBcc: x@y.com";
  EXPECT_THROW(build_alert_message(row, kFrom, "r", 0), std::invalid_argument);
}

}  // namespace
}  // namespace mpilake::alerts
