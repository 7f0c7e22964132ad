#pragma once
// Delivery of ready-made messages to one SMTP server with libcurl (smtp:// or smtps://), one
// connection kept open for all of them.
#include <memory>
#include <string>
#include <string_view>

namespace mpilake::alerts {

struct SendResult {
  bool ok = false;
  std::string error;  // one line: what failed and the server's reply, when there was one
};

class SmtpSender {
 public:
  // `url`: smtp://HOST:PORT (or smtps://); `envelope_from`: the MAIL FROM address.
  SmtpSender(std::string url, std::string envelope_from);
  ~SmtpSender();
  SmtpSender(const SmtpSender&) = delete;
  SmtpSender& operator=(const SmtpSender&) = delete;

  // MAIL FROM, RCPT TO `recipient`, DATA `message` (CRLF line ends; libcurl dot-stuffs). ok only when
  // the server accepted the message (2xx after the data).
  SendResult send(std::string_view recipient, std::string_view message);

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// Throws std::invalid_argument unless `url` is smtp://HOST[:PORT] or smtps://HOST[:PORT].
void check_smtp_url(std::string_view url);

}  // namespace mpilake::alerts
