#include "mpilake/alerts/outbox.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>

namespace mpilake::alerts {

namespace fs = std::filesystem;

namespace {

[[noreturn]] void fail(const std::string& what, const fs::path& path) {
  throw std::runtime_error(what + " " + path.string() + ": " + std::strerror(errno));
}

void write_all(int fd, std::string_view bytes, const fs::path& path) {
  while (!bytes.empty()) {
    const ssize_t written = ::write(fd, bytes.data(), bytes.size());
    if (written < 0) {
      if (errno == EINTR) continue;
      fail("cannot write", path);
    }
    bytes.remove_prefix(static_cast<std::size_t>(written));
  }
}

}  // namespace

void fsync_directory(const fs::path& folder) {
  const fs::path target = folder.empty() ? fs::path(".") : folder;
  const int fd = ::open(target.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) fail("cannot open folder", target);
  const int result = ::fsync(fd);
  ::close(fd);
  if (result != 0) fail("cannot fsync folder", target);
}

void write_file_durably(const fs::path& path, std::string_view contents) {
  const fs::path temporary = path.parent_path() / ("." + path.filename().string() + ".tmp");
  const int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) fail("cannot create", temporary);
  try {
    write_all(fd, contents, temporary);
    if (::fsync(fd) != 0) fail("cannot fsync", temporary);
  } catch (...) {
    ::close(fd);
    ::unlink(temporary.c_str());
    throw;
  }
  if (::close(fd) != 0) fail("cannot close", temporary);
  if (::rename(temporary.c_str(), path.c_str()) != 0) fail("cannot rename to " + path.string() + ":", temporary);
  fsync_directory(path.parent_path());
}

void rename_durably(const fs::path& from, const fs::path& to) {
  if (::rename(from.c_str(), to.c_str()) != 0) fail("cannot rename to " + to.string() + ":", from);
  fsync_directory(to.parent_path());
  if (from.parent_path() != to.parent_path()) fsync_directory(from.parent_path());
}

void create_directories_durably(const fs::path& folder) {
  if (folder.empty() || fs::is_directory(folder)) return;
  create_directories_durably(folder.parent_path());
  if (::mkdir(folder.c_str(), 0700) != 0 && errno != EEXIST) fail("cannot create folder", folder);
  fsync_directory(folder.parent_path());
}

std::string alert_key(std::int64_t user_id, std::int64_t alert_time, std::string_view bike) {
  return std::to_string(user_id) + "|" + std::to_string(alert_time) + "|" + std::string(bike);
}

std::string DeliveryLog::format(const DeliveryRecord& record) {
  const nlohmann::ordered_json line = {{"run_id", record.run_id},
                                       {"ride_id", record.ride_id},
                                       {"message_id", record.message_id},
                                       {"alert_key", record.alert_key},
                                       {"delivered_utc", record.delivered_utc}};
  // ensure_ascii: one line of plain ASCII whatever the bike's name holds.
  return line.dump(-1, ' ', true) + "\n";
}

std::string DeliveryLog::format_dead_letter(const DeliveryRecord& record) {
  const nlohmann::ordered_json line = {{"run_id", record.run_id},         {"ride_id", record.ride_id},
                                       {"message_id", record.message_id}, {"alert_key", record.alert_key},
                                       {"recipient", record.recipient},   {"reply_code", record.reply_code},
                                       {"reason", record.reason},         {"failed_utc", record.delivered_utc}};
  return line.dump(-1, ' ', true, nlohmann::json::error_handler_t::replace) + "\n";
}

DeliveryRecord DeliveryLog::parse(std::string_view line) {
  try {
    const auto json = nlohmann::json::parse(line);
    DeliveryRecord record;
    record.run_id = json.at("run_id").get<std::string>();
    record.ride_id = json.at("ride_id").get<std::int64_t>();
    record.message_id = json.at("message_id").get<std::string>();
    record.alert_key = json.at("alert_key").get<std::string>();
    record.delivered_utc = json.value("delivered_utc", json.value("failed_utc", std::string()));
    record.recipient = json.value("recipient", std::string());
    record.reply_code = json.value("reply_code", 0L);
    record.reason = json.value("reason", std::string());
    return record;
  } catch (const nlohmann::json::exception& e) {
    throw std::invalid_argument(e.what());
  }
}

DeliveryLog::DeliveryLog(fs::path path, Kind kind) : path_(std::move(path)), kind_(kind) {
  std::ifstream in(path_, std::ios::binary);
  if (!in) return;
  std::stringstream buffer;
  buffer << in.rdbuf();
  const std::string text = buffer.str();
  std::size_t start = 0;
  std::size_t line_number = 0;
  while (start < text.size()) {
    const auto end = text.find('\n', start);
    if (end == std::string::npos) break;  // torn by a crash: not a record
    ++line_number;
    const std::string_view line = std::string_view(text).substr(start, end - start);
    if (!line.empty()) {
      DeliveryRecord record;
      try {
        record = parse(line);
      } catch (const std::invalid_argument& e) {
        throw std::runtime_error(path_.string() + " line " + std::to_string(line_number) + " is not a " +
                                 (kind_ == Kind::Delivered ? "delivery" : "dead-letter") + " record (" + e.what() +
                                 ")");
      }
      by_ride_.emplace(record.run_id, record.ride_id);
      by_key_.emplace(record.alert_key, record.run_id);
      records_.push_back(std::move(record));
    }
    start = end + 1;
  }
  valid_bytes_ = start;
}

DeliveryLog::~DeliveryLog() {
  if (fd_ >= 0) ::close(fd_);
}

bool DeliveryLog::delivered(std::string_view run_id, std::int64_t ride_id) const {
  return by_ride_.count({std::string(run_id), ride_id}) != 0U;
}

std::string DeliveryLog::delivered_by(std::string_view key) const {
  const auto found = by_key_.find(std::string(key));
  return found == by_key_.end() ? std::string() : found->second;
}

void DeliveryLog::open_for_append() {
  const bool existed = fs::exists(path_);
  fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
  if (fd_ < 0) fail("cannot open", path_);
  // Cut off a line torn by an earlier crash, so the next record starts on a line of its own.
  if (::ftruncate(fd_, static_cast<off_t>(valid_bytes_)) != 0) fail("cannot truncate", path_);
  if (::lseek(fd_, 0, SEEK_END) < 0) fail("cannot seek in", path_);
  if (::fsync(fd_) != 0) fail("cannot fsync", path_);
  if (!existed) fsync_directory(path_.parent_path());
}

void DeliveryLog::append(const DeliveryRecord& record) {
  if (fd_ < 0) open_for_append();
  const std::string line = kind_ == Kind::Delivered ? format(record) : format_dead_letter(record);
  write_all(fd_, line, path_);
  if (::fdatasync(fd_) != 0) fail("cannot fsync", path_);
  valid_bytes_ += line.size();
  by_ride_.emplace(record.run_id, record.ride_id);
  by_key_.emplace(record.alert_key, record.run_id);
  records_.push_back(record);
}

OutboxLock::OutboxLock(const fs::path& outbox) {
  const fs::path path = outbox / ".lock";
  fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd_ < 0) fail("cannot open", path);
  if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    ::close(fd_);
    fd_ = -1;
    throw std::runtime_error("another `mpilake alerts` is working on " + outbox.string() + " (it holds " +
                             path.string() + ")");
  }
}

OutboxLock::~OutboxLock() {
  if (fd_ >= 0) ::close(fd_);
}

std::int64_t utc_now_micros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string utc_now_text() {
  const std::time_t now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm parts{};
  gmtime_r(&now, &parts);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &parts);
  return text;
}

}  // namespace mpilake::alerts
