#include "mpilake/alerts/smtp_sender.hpp"

#include <curl/curl.h>

#include <cstring>
#include <mutex>
#include <stdexcept>

namespace mpilake::alerts {

namespace {

struct Upload {
  std::string_view data;
  std::size_t offset = 0;
};

std::size_t read_upload(char* buffer, std::size_t size, std::size_t count, void* user) {
  auto* upload = static_cast<Upload*>(user);
  const std::size_t room = size * count;
  const std::size_t left = upload->data.size() - upload->offset;
  const std::size_t n = left < room ? left : room;
  std::memcpy(buffer, upload->data.data() + upload->offset, n);
  upload->offset += n;
  return n;
}

// Keeps the server's last reply line, for the error message.
int remember_reply(CURL*, curl_infotype type, char* data, std::size_t size, void* user) {
  if (type != CURLINFO_HEADER_IN) return 0;
  std::string line(data, size);
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.pop_back();
  if (!line.empty()) *static_cast<std::string*>(user) = line;
  return 0;
}

std::string one_line(std::string text) {
  for (char& c : text)
    if (c == '\r' || c == '\n') c = ' ';
  while (!text.empty() && text.back() == ' ') text.pop_back();
  return text;
}

}  // namespace

void check_smtp_url(std::string_view url) {
  std::string_view rest;
  if (url.starts_with("smtp://"))
    rest = url.substr(7);
  else if (url.starts_with("smtps://"))
    rest = url.substr(8);
  else
    throw std::invalid_argument("expected smtp://HOST:PORT");
  if (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
  if (rest.empty() || rest.front() == ':') throw std::invalid_argument("no host in the URL");
  for (const char c : rest)
    if (c == '/' || c == '@' || c == '?' || c == '#' || static_cast<unsigned char>(c) <= ' ')
      throw std::invalid_argument("expected smtp://HOST:PORT (no user, path or query)");
}

struct SmtpSender::State {
  CURL* curl = nullptr;
  std::string url;
  std::string envelope_from;
  std::string last_reply;
  char error[CURL_ERROR_SIZE] = {};
};

SmtpSender::SmtpSender(std::string url, std::string envelope_from) : state_(std::make_unique<State>()) {
  static std::once_flag global_init;
  std::call_once(global_init, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  state_->url = std::move(url);
  state_->envelope_from = "<" + envelope_from + ">";
  state_->curl = curl_easy_init();
  if (state_->curl == nullptr) throw std::runtime_error("curl_easy_init failed");
}

SmtpSender::~SmtpSender() {
  if (state_->curl != nullptr) curl_easy_cleanup(state_->curl);
}

SendResult SmtpSender::send(std::string_view recipient, std::string_view message) {
  CURL* curl = state_->curl;
  Upload upload{message, 0};
  const std::string rcpt = "<" + std::string(recipient) + ">";
  curl_slist* recipients = curl_slist_append(nullptr, rcpt.c_str());
  state_->last_reply.clear();
  state_->error[0] = '\0';
  curl_easy_setopt(curl, CURLOPT_URL, state_->url.c_str());
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
  // The debug callback sees the server's replies (it runs only with VERBOSE, and prints nothing).
  curl_easy_setopt(curl, CURLOPT_VERBOSE, 1L);
  curl_easy_setopt(curl, CURLOPT_DEBUGFUNCTION, remember_reply);
  curl_easy_setopt(curl, CURLOPT_DEBUGDATA, &state_->last_reply);
  const CURLcode code = curl_easy_perform(curl);
  curl_slist_free_all(recipients);
  curl_easy_setopt(curl, CURLOPT_MAIL_RCPT, nullptr);
  long response = 0;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &response);
  SendResult result;
  if (code == CURLE_OK && response >= 200 && response < 300) {
    result.ok = true;
    return result;
  }
  std::string reason = state_->error[0] != '\0' ? state_->error : curl_easy_strerror(code);
  if (code == CURLE_COULDNT_CONNECT || code == CURLE_COULDNT_RESOLVE_HOST || code == CURLE_OPERATION_TIMEDOUT)
    result.error = "cannot reach " + state_->url + " (" + one_line(reason) + ")";
  else if (!state_->last_reply.empty() && response >= 400)
    result.error = state_->url + " refused the message: " + one_line(state_->last_reply);
  else
    result.error = "delivery to " + state_->url + " failed (" + one_line(reason) +
                   (state_->last_reply.empty() ? "" : "; last reply: " + one_line(state_->last_reply)) + ")";
  return result;
}

}  // namespace mpilake::alerts
