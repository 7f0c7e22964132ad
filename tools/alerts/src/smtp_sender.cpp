#include "mpilake/alerts/smtp_sender.hpp"

#include <curl/curl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <mutex>
#include <stdexcept>

namespace mpilake::alerts {

namespace fs = std::filesystem;

namespace {

struct Upload {
  std::string_view data;
  std::size_t offset = 0;
  // With a login: libcurl skips AUTH when the server does not offer it; the data is then refused
  // here, before its first byte, so nothing goes out unauthenticated.
  const bool* must_be_logged_in = nullptr;
  bool refused_without_login = false;
};

std::size_t read_upload(char* buffer, std::size_t size, std::size_t count, void* user) {
  auto* upload = static_cast<Upload*>(user);
  if (upload->must_be_logged_in != nullptr && !*upload->must_be_logged_in) {
    upload->refused_without_login = true;
    return CURL_READFUNC_ABORT;
  }
  const std::size_t room = size * count;
  const std::size_t left = upload->data.size() - upload->offset;
  const std::size_t n = left < room ? left : room;
  std::memcpy(buffer, upload->data.data() + upload->offset, n);
  upload->offset += n;
  return n;
}

// What the debug callback saw: the server's last reply line and the verb of the last command sent.
// The first refusal (a 4xx or 5xx reply) is kept with the command it answered: after it libcurl
// still says QUIT, whose 221 is the last reply.
struct Conversation {
  std::string last_reply;
  std::string last_command;
  std::string refusal;          // the first 4xx/5xx reply line ("" when none)
  std::string refused_command;  // the verb it answered
  long refusal_code = 0;
  bool logged_in = false;  // this connection said AUTH and got 235 (kept across sends)
};

// Keeps the server's last reply line (for the error message) and the last command's verb (which
// step a reply answers). It prints nothing, and never sees the password: AUTH's argument is cut off.
int remember(CURL*, curl_infotype type, char* data, std::size_t size, void* user) {
  auto* conversation = static_cast<Conversation*>(user);
  if (type != CURLINFO_HEADER_IN && type != CURLINFO_HEADER_OUT) return 0;
  std::string line(data, size);
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.pop_back();
  if (line.empty()) return 0;
  if (type == CURLINFO_HEADER_IN) {
    conversation->last_reply = line;
    if (line.starts_with("235") && conversation->last_command == "AUTH") conversation->logged_in = true;
    const bool coded = line.size() >= 3 && std::isdigit(static_cast<unsigned char>(line[0])) &&
                       std::isdigit(static_cast<unsigned char>(line[1])) &&
                       std::isdigit(static_cast<unsigned char>(line[2]));
    if (coded && (line[0] == '4' || line[0] == '5') && conversation->refusal.empty()) {
      conversation->refusal = line;
      conversation->refused_command = conversation->last_command;
      conversation->refusal_code = std::stol(line.substr(0, 3));
    }
  } else {
    // AUTH LOGIN sends the user and the password as lines of their own: keep the verb AUTH then.
    std::string verb = line.substr(0, line.find(' '));
    for (char& c : verb) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    static const char* const kVerbs[] = {"EHLO", "HELO", "STARTTLS", "AUTH", "MAIL", "RCPT", "DATA", "QUIT", "RSET"};
    bool known = false;
    for (const char* v : kVerbs) known = known || verb == v;
    if (known) conversation->last_command = verb;
    if (verb == "EHLO" || verb == "HELO") conversation->logged_in = false;  // a new connection (or after TLS)
  }
  return 0;
}

std::string one_line(std::string text) {
  for (char& c : text)
    if (c == '\r' || c == '\n') c = ' ';
  while (!text.empty() && text.back() == ' ') text.pop_back();
  return text;
}

std::string trimmed(std::string_view text) {
  const auto first = text.find_first_not_of(" \t\r");
  if (first == std::string_view::npos) return {};
  const auto last = text.find_last_not_of(" \t\r");
  return std::string(text.substr(first, last - first + 1));
}

std::string endpoint_of(std::string_view url) {
  std::string_view rest = url.substr(url.find("://") + 3);
  if (rest.ends_with('/')) rest.remove_suffix(1);
  if (rest.find(':') == std::string_view::npos)
    return std::string(rest) + (url.starts_with("smtps://") ? ":465" : ":25");
  return std::string(rest);
}

}  // namespace

TlsMode parse_tls_mode(std::string_view text) {
  if (text == "required") return TlsMode::Required;
  if (text == "opportunistic") return TlsMode::Opportunistic;
  if (text == "off") return TlsMode::Off;
  throw std::invalid_argument("expected required, opportunistic or off (got '" + std::string(text) + "')");
}

std::string_view tls_mode_name(TlsMode mode) {
  switch (mode) {
    case TlsMode::Required: return "required";
    case TlsMode::Opportunistic: return "opportunistic";
    case TlsMode::Off: return "off";
  }
  return "?";
}

std::optional<SmtpLogin> read_smtp_login(const std::optional<fs::path>& auth_file) {
  if (auth_file) {
    const std::string where = auth_file->string();
    struct stat info {};
    if (::stat(auth_file->c_str(), &info) != 0)
      throw std::runtime_error("--smtp-auth-file " + where + ": " + std::strerror(errno));
    if (!S_ISREG(info.st_mode)) throw std::runtime_error("--smtp-auth-file " + where + " is not a file");
    if ((info.st_mode & 077) != 0)
      throw std::runtime_error("--smtp-auth-file " + where +
                               " is readable by other users: it holds a password (chmod 600 it)");
    std::ifstream in(*auth_file);
    if (!in) throw std::runtime_error("--smtp-auth-file " + where + ": cannot read it");
    SmtpLogin login;
    bool has_user = false, has_password = false;
    std::string line;
    std::size_t number = 0;
    while (std::getline(in, line)) {
      ++number;
      const std::string text = trimmed(line);
      if (text.empty() || text.front() == '#') continue;
      const auto equals = text.find('=');
      const std::string key = equals == std::string::npos ? text : trimmed(text.substr(0, equals));
      if (equals == std::string::npos || (key != "user" && key != "password"))
        throw std::runtime_error("--smtp-auth-file " + where + " line " + std::to_string(number) +
                                 ": expected 'user = NAME' or 'password = SECRET'");
      const std::string value = trimmed(text.substr(equals + 1));
      if (key == "user") {
        login.user = value;
        has_user = true;
      } else {
        login.password = value;
        has_password = true;
      }
    }
    if (!has_user || login.user.empty() || !has_password)
      throw std::runtime_error("--smtp-auth-file " + where + " needs a 'user = NAME' and a 'password = SECRET' line");
    return login;
  }
  const char* user = std::getenv("MPILAKE_SMTP_USER");
  const char* password = std::getenv("MPILAKE_SMTP_PASSWORD");
  const bool has_user = user != nullptr && *user != '\0';
  const bool has_password = password != nullptr;
  if (!has_user && !has_password) return std::nullopt;
  if (!has_user || !has_password)
    throw std::runtime_error("set both MPILAKE_SMTP_USER and MPILAKE_SMTP_PASSWORD for an SMTP login, or neither");
  return SmtpLogin{user, password};
}

TlsMode default_tls_mode(const SmtpSettings& settings) {
  if (settings.tls) return *settings.tls;
  return settings.login ? TlsMode::Required : TlsMode::Opportunistic;
}

void check_smtp_url(std::string_view url) {
  std::string_view rest;
  if (url.starts_with("smtp://"))
    rest = url.substr(7);
  else if (url.starts_with("smtps://"))
    rest = url.substr(8);
  else
    throw std::invalid_argument("expected smtp://HOST:PORT or smtps://HOST:PORT");
  if (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
  if (rest.empty() || rest.front() == ':') throw std::invalid_argument("no host in the URL");
  for (const char c : rest)
    if (c == '/' || c == '@' || c == '?' || c == '#' || static_cast<unsigned char>(c) <= ' ')
      throw std::invalid_argument(
          "expected smtp://HOST:PORT (no user, path or query; a login goes in "
          "--smtp-auth-file or MPILAKE_SMTP_USER/MPILAKE_SMTP_PASSWORD)");
}

void check_smtp_settings(const SmtpSettings& settings) {
  check_smtp_url(settings.url);
  if (settings.url.starts_with("smtps://") && settings.tls && *settings.tls != TlsMode::Required)
    throw std::invalid_argument("--tls " + std::string(tls_mode_name(*settings.tls)) +
                                " does not go with smtps:// (always TLS); use smtp:// for STARTTLS or none");
  if (!settings.ca_file.empty() && ::access(settings.ca_file.c_str(), R_OK) != 0)
    throw std::invalid_argument("--ca-file " + settings.ca_file.string() + ": " + std::strerror(errno));
}

SmtpSettings smtp_settings(std::string_view url_option, const std::string& url, const std::optional<std::string>& tls,
                           const std::optional<std::string>& ca_file, const std::optional<std::string>& auth_file) {
  SmtpSettings settings;
  settings.url = url;
  try {
    check_smtp_url(url);
  } catch (const std::invalid_argument& e) {
    throw std::invalid_argument(std::string(url_option) + " '" + url + "': " + e.what());
  }
  if (tls) {
    try {
      settings.tls = parse_tls_mode(*tls);
    } catch (const std::invalid_argument& e) {
      throw std::invalid_argument("--tls: " + std::string(e.what()));
    }
  }
  if (ca_file) settings.ca_file = *ca_file;
  try {
    settings.login = read_smtp_login(auth_file ? std::optional<fs::path>(*auth_file) : std::nullopt);
  } catch (const std::runtime_error& e) {
    throw std::invalid_argument(e.what());
  }
  check_smtp_settings(settings);
  return settings;
}

struct SmtpSender::State {
  CURL* curl = nullptr;
  SmtpSettings settings;
  std::string endpoint;
  std::string envelope_from;
  Conversation conversation;
  char error[CURL_ERROR_SIZE] = {};
};

SmtpSender::SmtpSender(SmtpSettings settings, std::string envelope_from) : state_(std::make_unique<State>()) {
  static std::once_flag global_init;
  std::call_once(global_init, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  state_->settings = std::move(settings);
  state_->endpoint = endpoint_of(state_->settings.url);
  state_->envelope_from = "<" + envelope_from + ">";
  state_->curl = curl_easy_init();
  if (state_->curl == nullptr) throw std::runtime_error("curl_easy_init failed");
}

SmtpSender::~SmtpSender() {
  if (state_->curl != nullptr) curl_easy_cleanup(state_->curl);
}

const std::string& SmtpSender::endpoint() const {
  return state_->endpoint;
}

SendResult SmtpSender::send(std::string_view recipient, std::string_view message) {
  CURL* curl = state_->curl;
  const SmtpSettings& settings = state_->settings;
  Upload upload{message, 0, settings.login ? &state_->conversation.logged_in : nullptr, false};
  const std::string rcpt = "<" + std::string(recipient) + ">";
  curl_slist* recipients = curl_slist_append(nullptr, rcpt.c_str());
  const bool logged_in = state_->conversation.logged_in;
  state_->conversation = {};
  state_->conversation.logged_in = logged_in;
  state_->error[0] = '\0';
  curl_easy_setopt(curl, CURLOPT_URL, settings.url.c_str());
  const TlsMode tls = default_tls_mode(settings);
  curl_easy_setopt(curl, CURLOPT_USE_SSL,
                   static_cast<long>(tls == TlsMode::Required        ? CURLUSESSL_ALL
                                     : tls == TlsMode::Opportunistic ? CURLUSESSL_TRY
                                                                     : CURLUSESSL_NONE));
  if (!settings.ca_file.empty()) curl_easy_setopt(curl, CURLOPT_CAINFO, settings.ca_file.c_str());
  if (settings.login) {
    curl_easy_setopt(curl, CURLOPT_USERNAME, settings.login->user.c_str());
    curl_easy_setopt(curl, CURLOPT_PASSWORD, settings.login->password.c_str());
  }
  curl_easy_setopt(curl, CURLOPT_MAIL_FROM, state_->envelope_from.c_str());
  curl_easy_setopt(curl, CURLOPT_MAIL_RCPT, recipients);
  curl_easy_setopt(curl, CURLOPT_UPLOAD, 1L);
  curl_easy_setopt(curl, CURLOPT_READFUNCTION, read_upload);
  curl_easy_setopt(curl, CURLOPT_READDATA, &upload);
  curl_easy_setopt(curl, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(message.size()));
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, 10L);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT, 60L);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, state_->error);
  // The debug callback sees the conversation (it runs only with VERBOSE, and prints nothing).
  curl_easy_setopt(curl, CURLOPT_VERBOSE, 1L);
  curl_easy_setopt(curl, CURLOPT_DEBUGFUNCTION, remember);
  curl_easy_setopt(curl, CURLOPT_DEBUGDATA, &state_->conversation);
  const CURLcode code = curl_easy_perform(curl);
  curl_slist_free_all(recipients);
  curl_easy_setopt(curl, CURLOPT_MAIL_RCPT, nullptr);
  long response = 0;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &response);
  SendResult result;
  result.reply_code = response;
  if (code == CURLE_OK && response >= 200 && response < 300) {
    result.ok = true;
    return result;
  }
  const std::string& host = state_->endpoint;
  const std::string reason = one_line(state_->error[0] != '\0' ? state_->error : curl_easy_strerror(code));
  const Conversation& talk = state_->conversation;
  if (talk.refusal_code != 0) response = talk.refusal_code;
  result.reply_code = response;
  const std::string reply = one_line(talk.refusal.empty() ? talk.last_reply : talk.refusal);
  const std::string& command = talk.refusal.empty() ? talk.last_command : talk.refused_command;
  const std::string in_reply = reply.empty() ? "" : " (" + reply + ")";
  if (upload.refused_without_login) {
    result.failure = SendFailure::Fatal;
    result.error = host + " offers no SMTP login (AUTH) on this connection, so the login cannot be used";
  } else if (code == CURLE_LOGIN_DENIED) {
    result.failure = SendFailure::Fatal;
    result.error = "SMTP login refused by " + host + (reply.empty() ? " (" + reason + ")" : in_reply);
  } else if (code == CURLE_USE_SSL_FAILED) {
    result.failure = SendFailure::Fatal;
    result.error =
        host + " does not offer STARTTLS and --tls is required" + (settings.login ? "; the login was not sent" : "");
  } else if (code == CURLE_PEER_FAILED_VERIFICATION || code == CURLE_SSL_CACERT_BADFILE ||
             code == CURLE_SSL_CONNECT_ERROR || code == CURLE_SSL_CERTPROBLEM) {
    result.failure = SendFailure::Fatal;
    result.error = "TLS with " + host + " failed: " + reason +
                   (code == CURLE_PEER_FAILED_VERIFICATION ? " (a private CA goes in --ca-file FILE)" : "");
  } else if (code == CURLE_COULDNT_CONNECT || code == CURLE_COULDNT_RESOLVE_HOST || code == CURLE_OPERATION_TIMEDOUT) {
    result.failure = SendFailure::Temporary;
    result.error = "cannot reach " + settings.url + " (" + reason + ")";
  } else if (response >= 500 && response < 600 && !reply.empty() && (command == "RCPT" || command == "DATA")) {
    result.failure = SendFailure::Permanent;
    result.error = settings.url + " refused the message: " + reply;
  } else if (response >= 500 && response < 600 && !reply.empty()) {
    // A refusal of the session (the greeting, EHLO, AUTH, the sender): no message can go.
    result.failure = SendFailure::Fatal;
    result.error = settings.url + " refused the session" + (command.empty() ? "" : " at " + command) + ": " + reply;
  } else if (response >= 400 && response < 500 && !reply.empty()) {
    result.failure = SendFailure::Temporary;
    result.error = settings.url + " refused the message: " + reply;
  } else {
    // A dropped connection or another transport error: whether the server kept the message is not
    // known, but it did not accept it (no 2xx), so it is sent again.
    result.failure = SendFailure::Temporary;
    if (reply.starts_with("354"))
      result.error = "the connection to " + host + " was lost in or after the data, before the server accepted it (" +
                     reason + ")";
    else
      result.error =
          "delivery to " + settings.url + " failed (" + reason + (reply.empty() ? "" : "; last reply: " + reply) + ")";
  }
  return result;
}

}  // namespace mpilake::alerts
