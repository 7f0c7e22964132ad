#pragma once
// One heart-rate alert as a ready-to-send RFC 5322 message: headers that no rider data can break
// (display names as RFC 2047 encoded words, addresses checked before use), a text/plain UTF-8 body
// in quoted-printable, CRLF line ends throughout. Pure functions, no I/O (docs/alerts.md).
#include <cstdint>
#include <string>
#include <string_view>

namespace mpilake::alerts {

// One row of heart_rate_alerts plus the ride's start time from rides.
struct AlertRow {
  std::int64_t ride_id = 0;
  std::int64_t user_id = 0;
  std::string bike;
  std::int64_t alert_time = 0;  // µs since the epoch, UTC
  std::string kind;             // "high" or "low"
  std::int64_t heart_rate = 0;
  std::int64_t hr_lower = 0;
  std::int64_t hr_upper = 0;
  std::int64_t age = 0;
  std::string gender;
  std::string email;
  std::string first_name;
  std::int64_t ride_start = 0;  // µs since the epoch, UTC (INT64_MIN when unknown)
};

// An address with an optional display name, e.g. the --from value.
struct Mailbox {
  std::string display_name;  // UTF-8, may be empty
  std::string address;       // checked with address_problem()
};

// Why `address` cannot be used as an SMTP envelope and header address ("" when it can): it must be
// plain ASCII local@domain (dot-atom local part, a domain of at least two letter-digit-hyphen labels),
// without spaces, control characters or quotes. Deliberately stricter than RFC 5321 allows.
std::string address_problem(std::string_view address);

// Parses "addr@example.com" or "Display Name <addr@example.com>"; throws std::invalid_argument
// with a one-line reason when it is neither or the address is unusable.
Mailbox parse_mailbox(std::string_view text);

// The text with every control character (CR, LF, TAB, ...) replaced by a space, runs of spaces
// collapsed, the ends trimmed, and invalid UTF-8 replaced by U+FFFD.
std::string clean_text(std::string_view text);

// A display name as it may appear before <address>: unchanged when it is plain ASCII words, else
// RFC 2047 encoded words (=?UTF-8?B?...?=, each at most 75 characters, folded with CRLF SP). The
// name is cleaned first, so CR/LF cannot start a new header.
std::string encode_display_name(std::string_view name);

// "Name <address>" (or "<address>" without a name) for a header.
std::string format_mailbox(const Mailbox& mailbox);

// Quoted-printable (RFC 2045) of UTF-8 text whose lines end in "\n": CRLF line ends, lines of at
// most 76 characters (soft breaks "=" CRLF), trailing spaces and a leading "." encoded.
std::string quoted_printable(std::string_view text);

// "Sat, 01 Oct 2022 06:47:38 +0000" (RFC 5322 date-time, UTC).
std::string rfc5322_date(std::int64_t micros);
// "Saturday 1 October 2022 at 06:47 UTC".
std::string human_utc(std::int64_t micros);

// A stable Message-ID for the alert of `ride_id` in the run `run_id`: the same on every rebuild, so
// a receiver can recognise a message sent twice (docs/alerts.md, "The window").
std::string alert_message_id(std::string_view run_id, std::int64_t ride_id);

struct AlertMessage {
  std::string message_id;  // with the angle brackets
  std::string recipient;   // the envelope address (the row's email)
  std::string text;        // the whole message, CRLF line ends
};

// Builds the message of one alert. `now_micros` gives the Date header. The row's email must have
// passed address_problem().
AlertMessage build_alert_message(const AlertRow& row, const Mailbox& from, std::string_view run_id,
                                 std::int64_t now_micros);

// The plain-text body (UTF-8, "\n" line ends) before quoted-printable encoding.
std::string alert_body(const AlertRow& row);

}  // namespace mpilake::alerts
