#pragma once
// The durable side of the alert outbox (docs/alerts.md): files written so that a crash leaves the
// old or the new version, never a torn one, and the append-only delivery log whose records are on
// disk before the next message is sent.
#include <cstdint>
#include <filesystem>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace mpilake::alerts {

// Writes DIR/.NAME.tmp, fsyncs it, renames it to `path` and fsyncs DIR. Throws std::runtime_error.
void write_file_durably(const std::filesystem::path& path, std::string_view contents);
// rename() plus an fsync of both folders. Throws std::runtime_error.
void rename_durably(const std::filesystem::path& from, const std::filesystem::path& to);
// create_directories() plus an fsync of the parent of each folder it made.
void create_directories_durably(const std::filesystem::path& folder);
void fsync_directory(const std::filesystem::path& folder);

// One delivered alert: a line of JSON in delivered.log.
struct DeliveryRecord {
  std::string run_id;
  std::int64_t ride_id = 0;
  std::string message_id;
  std::string alert_key;      // the alert independent of the run: see alert_key()
  std::string delivered_utc;  // in the dead-letter file: when the server refused it ("failed_utc")
  // Dead letters only: the envelope address, the server's reply code and the one-line reason.
  std::string recipient;
  long reply_code = 0;
  std::string reason;
};

// "<user_id>|<alert_time>|<bike>": names an alert in any run of the same data (the numbers come
// first, so the bike's text cannot make two keys equal).
std::string alert_key(std::int64_t user_id, std::int64_t alert_time, std::string_view bike);

// DIR/alerts_outbox/delivered.log: one JSON object per line, appended and fsynced one at a time.
//
// The same class keeps DIR/alerts_dead_letter.jsonl (Kind::DeadLetter): the alerts a server refused
// for good (a 5xx to RCPT TO or to the data), with the reason; each line is on disk before the next
// message is sent, and an alert with a line there is not queued again.
class DeliveryLog {
 public:
  enum class Kind { Delivered, DeadLetter };
  // Reads the log (a missing file is an empty log). A last line without its "\n" was cut short by a
  // crash while it was written: it is not a record, and is cut off the file before anything is
  // appended. Any other unreadable line is an error (std::runtime_error naming the line).
  explicit DeliveryLog(std::filesystem::path path, Kind kind = Kind::Delivered);
  DeliveryLog(const DeliveryLog&) = delete;
  DeliveryLog& operator=(const DeliveryLog&) = delete;
  ~DeliveryLog();

  const std::vector<DeliveryRecord>& records() const { return records_; }
  bool delivered(std::string_view run_id, std::int64_t ride_id) const;
  // The run that delivered the alert with this key ("" when none did).
  std::string delivered_by(std::string_view key) const;
  // Appends one line and fsyncs the file (and, when it created the file, its folder) before returning.
  void append(const DeliveryRecord& record);

  static std::string format(const DeliveryRecord& record);  // the line, with its "\n"
  static std::string format_dead_letter(const DeliveryRecord& record);
  static DeliveryRecord parse(std::string_view line);  // throws std::invalid_argument

 private:
  void open_for_append();
  std::filesystem::path path_;
  Kind kind_ = Kind::Delivered;
  std::vector<DeliveryRecord> records_;
  std::set<std::pair<std::string, std::int64_t>> by_ride_;
  std::unordered_map<std::string, std::string> by_key_;  // key -> the run that delivered it first
  std::uintmax_t valid_bytes_ = 0;
  int fd_ = -1;
};

// An exclusive flock() on DIR/alerts_outbox/.lock while the outbox is rebuilt or sent, so two
// `mpilake alerts` cannot send the same alert; released by the kernel however the process ends.
class OutboxLock {
 public:
  // Throws std::runtime_error when another process holds it.
  explicit OutboxLock(const std::filesystem::path& outbox);
  OutboxLock(const OutboxLock&) = delete;
  OutboxLock& operator=(const OutboxLock&) = delete;
  ~OutboxLock();

 private:
  int fd_ = -1;
};

// The current UTC time as "YYYY-MM-DDTHH:MM:SSZ" and as µs since the epoch.
std::string utc_now_text();
std::int64_t utc_now_micros();

}  // namespace mpilake::alerts
