#pragma once
// Delivery of ready-made messages to one SMTP server with libcurl, one connection kept open for all
// of them: smtp:// with STARTTLS (required, opportunistic or off), smtps:// (implicit TLS), a CA file
// for a private CA, and a login read from a file or the environment, never from the command line
// (docs/alerts.md, "Mail servers"). `mpilake report --email` uses the same settings.
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace mpilake::alerts {

// How smtp:// uses STARTTLS (smtps:// is TLS from the first byte whatever the mode).
enum class TlsMode {
  Required,       // STARTTLS or no mail (CURLUSESSL_ALL): the server must offer it
  Opportunistic,  // STARTTLS when the server offers it, plain text otherwise (CURLUSESSL_TRY)
  Off,            // never (CURLUSESSL_NONE)
};
// "required", "opportunistic", "off"; throws std::invalid_argument otherwise.
TlsMode parse_tls_mode(std::string_view text);
std::string_view tls_mode_name(TlsMode mode);

struct SmtpLogin {
  std::string user;
  std::string password;
};

// The login: from `auth_file` when given (lines `user = NAME` and `password = SECRET`, `#` comments;
// the file must not be readable by group or others), else from MPILAKE_SMTP_USER and
// MPILAKE_SMTP_PASSWORD when both are set, else none. Throws std::runtime_error with one line (the
// file cannot be read, is readable by others, lacks a key; only one of the two variables is set).
std::optional<SmtpLogin> read_smtp_login(const std::optional<std::filesystem::path>& auth_file);

struct SmtpSettings {
  std::string url;                // smtp://HOST[:PORT] or smtps://HOST[:PORT]
  std::optional<TlsMode> tls;     // unset: Required with a login, else Opportunistic (default_tls_mode)
  std::filesystem::path ca_file;  // empty: the system's CAs
  std::optional<SmtpLogin> login;
};
// The mode a URL and a login get when --tls is not given: required when there is a password to
// protect, opportunistic otherwise (a relay on the host or the LAN without TLS keeps working).
TlsMode default_tls_mode(const SmtpSettings& settings);

// Checks the combination (throws std::invalid_argument with one line): the URL (check_smtp_url), a
// --tls with smtps:// other than required, a CA file that cannot be read.
void check_smtp_settings(const SmtpSettings& settings);

// The settings of the command-line options `url_option` (--email or --send) URL, --tls MODE, --ca-file FILE and
// --smtp-auth-file FILE (the login: read_smtp_login). Throws std::invalid_argument with one line
// naming the option.
SmtpSettings smtp_settings(std::string_view url_option, const std::string& url, const std::optional<std::string>& tls,
                           const std::optional<std::string>& ca_file, const std::optional<std::string>& auth_file);

// What a failed send means for the message.
enum class SendFailure {
  None,
  Permanent,  // a 5xx reply to RCPT TO or to the data: this message will never go (dead letter)
  Temporary,  // a 4xx reply, a dropped connection, a timeout, no connection: retry later
  Fatal,      // the session itself: login refused, TLS refused or untrusted, the sender refused
};

struct SendResult {
  bool ok = false;
  SendFailure failure = SendFailure::None;
  long reply_code = 0;  // the server's last reply code (0 when there was none)
  std::string error;    // one line: what failed and the server's reply, when there was one
};

class SmtpSender {
 public:
  // `envelope_from`: the MAIL FROM address. The settings must have passed check_smtp_settings().
  SmtpSender(SmtpSettings settings, std::string envelope_from);
  ~SmtpSender();
  SmtpSender(const SmtpSender&) = delete;
  SmtpSender& operator=(const SmtpSender&) = delete;

  // MAIL FROM, RCPT TO `recipient`, DATA `message` (CRLF line ends; libcurl dot-stuffs). ok only when
  // the server accepted the message (2xx after the data).
  SendResult send(std::string_view recipient, std::string_view message);

  // "HOST:PORT" of the URL (for messages).
  const std::string& endpoint() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// Throws std::invalid_argument unless `url` is smtp://HOST[:PORT] or smtps://HOST[:PORT].
void check_smtp_url(std::string_view url);

}  // namespace mpilake::alerts
