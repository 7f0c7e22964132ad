#include "mpilake/alerts/alerts.hpp"

#include <openssl/evp.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <sstream>
#include <thread>
#include <unordered_map>
#include <vector>

#include "mpilake/alerts/outbox.hpp"
#include "mpilake/alerts/smtp_sender.hpp"
#include "mpilake/h5/zone_reader.hpp"
#include "mpilake/tools/run_folder.hpp"

namespace mpilake::alerts {

namespace fs = std::filesystem;

namespace {

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw AlertsInputError("cannot read " + path.string());
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

std::string sha256_hex(std::string_view bytes) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_Digest(bytes.data(), bytes.size(), digest, &length, EVP_sha256(), nullptr);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  for (unsigned int i = 0; i < length; ++i) {
    hex += kHex[digest[i] >> 4];
    hex += kHex[digest[i] & 15];
  }
  return hex;
}

std::size_t column_of(const ZoneFile& zone, const std::string& file, const std::string& name, ColumnType type) {
  for (std::size_t c = 0; c < zone.columns.size(); ++c)
    if (zone.columns[c].name == name) {
      if (zone.columns[c].type != type)
        throw AlertsInputError(file + " column " + name + " is " + std::string(column_type_name(zone.columns[c].type)) +
                               ", expected " + std::string(column_type_name(type)));
      return c;
    }
  throw AlertsInputError(file + " has no column " + name);
}

// The run the folder holds: its id (from summary.json's bytes), its creation time, and the alerts.
struct Run {
  std::string id;
  std::string created_utc;
  std::vector<AlertRow> alerts;
};

// The run-folder reader's findings in the words of alerts.
std::string alerts_message(const fs::path& out, const tools::RunFolderError& e) {
  using Kind = tools::RunFolderError::Kind;
  const std::string where = out.string();
  switch (e.kind) {
    case Kind::no_folder:
    case Kind::not_a_folder: return where + " is not a folder";
    case Kind::no_summary: return where + " is not a finished Deloton run (no summary.json)";
    case Kind::unreadable_summary: return "cannot read " + (out / "summary.json").string();
    case Kind::invalid_summary: return (out / "summary.json").string() + " is not valid JSON";
    case Kind::not_an_object:
    case Kind::wrong_pipeline: return where + " is not a Deloton run (summary.json has no \"pipeline\": \"deloton\")";
    case Kind::missing_zone: return where + " is not a finished Deloton run (no " + e.subject + ".h5)";
    case Kind::zone_of_other_run:
      return where + " is not a finished Deloton run: " + e.subject + ".h5 and summary.json are from different runs";
    default: return e.what();
  }
}

Run read_run(const fs::path& out) {
  tools::RunSummary summary;
  try {
    summary = tools::read_summary(out);
    tools::require_pipeline(summary, "deloton");
    tools::require_zones(out, {"heart_rate_alerts", "rides"});
  } catch (const tools::RunFolderError& e) {
    throw AlertsInputError(alerts_message(out, e));
  }
  Run run;
  // The id names this run's outputs: a new run in the folder writes a new summary.json.
  run.id = sha256_hex(summary.text).substr(0, 16);
  run.created_utc = summary.created_utc;

  ZoneFile alerts, rides;
  try {
    alerts = read_zone(out / "heart_rate_alerts.h5");
    rides = read_zone(out / "rides.h5");
  } catch (const std::exception& e) {
    throw AlertsInputError(std::string("cannot read the zones: ") + e.what());
  }
  try {
    tools::check_zone_of_run(summary, "heart_rate_alerts", alerts);
    tools::check_zone_of_run(summary, "rides", rides);
  } catch (const tools::RunFolderError& e) {
    throw AlertsInputError(alerts_message(out, e));
  }
  const std::string file = "heart_rate_alerts.h5";
  const Table& a = alerts.table;
  const auto ints = [&](const char* name) -> const std::vector<std::int64_t>& {
    return a.ints(column_of(alerts, file, name, ColumnType::Int64));
  };
  const auto strings = [&](const char* name) -> const StringColumn& {
    return a.strings(column_of(alerts, file, name, ColumnType::String));
  };
  const auto &ride_id = ints("ride_id"), &user_id = ints("user_id"), &alert_time = ints("alert_time"),
             &heart_rate = ints("heart_rate"), &hr_lower = ints("hr_lower"), &hr_upper = ints("hr_upper"),
             &age = ints("age");
  const auto &bike = strings("bike"), &kind = strings("kind"), &gender = strings("gender"), &email = strings("email"),
             &first_name = strings("first_name");
  std::unordered_map<std::int64_t, std::int64_t> start_of;
  for (std::size_t r = 0; r < a.num_rows(); ++r) start_of.emplace(ride_id[r], kNullInt64);
  {
    const auto& ids = rides.table.ints(column_of(rides, "rides.h5", "ride_id", ColumnType::Int64));
    const auto& starts = rides.table.ints(column_of(rides, "rides.h5", "start_time", ColumnType::Int64));
    for (std::size_t r = 0; r < ids.size(); ++r) {
      const auto found = start_of.find(ids[r]);
      if (found != start_of.end()) found->second = starts[r];
    }
  }
  for (std::size_t r = 0; r < a.num_rows(); ++r) {
    AlertRow row;
    row.ride_id = ride_id[r];
    row.user_id = user_id[r];
    row.bike = std::string(bike[r]);
    row.alert_time = alert_time[r];
    row.kind = std::string(kind[r]);
    row.heart_rate = heart_rate[r];
    row.hr_lower = hr_lower[r];
    row.hr_upper = hr_upper[r];
    row.age = age[r];
    row.gender = std::string(gender[r]);
    row.email = std::string(email[r]);
    row.first_name = std::string(first_name[r]);
    row.ride_start = start_of[row.ride_id];
    run.alerts.push_back(std::move(row));
  }
  return run;
}

std::string eml_name(std::int64_t ride_id) {
  return "alert-" + std::to_string(ride_id) + ".eml";
}

// The message without its Date line: equal means an existing file may stay as it is.
std::string without_date(std::string_view text) {
  const auto header_end = text.find("\r\n\r\n");
  const auto date = text.find("\r\nDate: ");
  if (date == std::string_view::npos || date > header_end) return std::string(text);
  const auto line_end = text.find("\r\n", date + 2);
  return std::string(text.substr(0, date)) + std::string(text.substr(line_end));
}

struct Queued {
  AlertRow row;
  AlertMessage message;
};

struct Outcome {
  std::size_t alerts = 0;
  std::vector<Queued> queued;
  std::size_t delivered_before = 0;            // by this run, in an earlier invocation
  std::size_t delivered_other_run = 0;         // the same alert (user, time, bike) by an earlier run
  std::size_t dead_before = 0;                 // refused for good earlier (in the dead-letter file)
  std::size_t dead_now = 0;                    // refused for good by this invocation
  std::map<std::string, std::size_t> skipped;  // reason -> count
  std::size_t skipped_total = 0;
};

std::string counts_text(const Outcome& o) {
  std::string text;
  if (o.delivered_before + o.delivered_other_run > 0)
    text += ", " + std::to_string(o.delivered_before + o.delivered_other_run) + " delivered before" +
            (o.delivered_other_run > 0 ? " (" + std::to_string(o.delivered_other_run) + " by an earlier run)" : "");
  if (o.dead_now > 0) text += ", " + std::to_string(o.dead_now) + " refused for good (dead letters)";
  if (o.dead_before > 0) text += ", " + std::to_string(o.dead_before) + " dead letters before";
  text += ", " + std::to_string(o.skipped_total) + " skipped";
  if (o.skipped_total > 0) {
    text += " (";
    bool first = true;
    for (const auto& [reason, count] : o.skipped) {
      text += (first ? "" : ", ") + std::to_string(count) + " " + reason;
      first = false;
    }
    text += ")";
  }
  return text;
}

void write_state(const fs::path& outbox, const Run& run, const fs::path& out, const Outcome& outcome,
                 const std::vector<Queued>& still_queued, const DeliveryLog& log, const DeliveryLog& dead,
                 const std::vector<std::pair<std::int64_t, std::string>>& skipped,
                 const std::vector<std::pair<std::int64_t, std::string>>& other_run) {
  nlohmann::ordered_json state;
  state["format"] = "mpilake-alerts-outbox/1";
  state["run_id"] = run.id;
  state["run_created_utc"] = run.created_utc;
  state["run_folder"] = fs::absolute(out).lexically_normal().string();
  state["updated_utc"] = utc_now_text();
  state["alerts"] = outcome.alerts;
  auto queued = nlohmann::ordered_json::array();
  for (const auto& q : still_queued)
    queued.push_back(
        {{"ride_id", q.row.ride_id}, {"file", eml_name(q.row.ride_id)}, {"message_id", q.message.message_id}});
  state["queued"] = queued;
  auto delivered = nlohmann::ordered_json::array();
  for (const auto& record : log.records())
    if (record.run_id == run.id)
      delivered.push_back({{"ride_id", record.ride_id},
                           {"message_id", record.message_id},
                           {"delivered_utc", record.delivered_utc},
                           {"file", "sent/" + run.id + "/" + eml_name(record.ride_id)}});
  state["delivered"] = delivered;
  auto dead_letters = nlohmann::ordered_json::array();
  for (const auto& record : dead.records())
    if (record.run_id == run.id)
      dead_letters.push_back({{"ride_id", record.ride_id},
                              {"reply_code", record.reply_code},
                              {"reason", record.reason},
                              {"failed_utc", record.delivered_utc},
                              {"file", "dead/" + run.id + "/" + eml_name(record.ride_id)}});
  state["dead_letters"] = dead_letters;
  auto earlier = nlohmann::ordered_json::array();
  for (const auto& [ride, by] : other_run) earlier.push_back({{"ride_id", ride}, {"delivered_by_run", by}});
  state["delivered_by_earlier_run"] = earlier;
  auto skips = nlohmann::ordered_json::array();
  for (const auto& [ride, reason] : skipped) skips.push_back({{"ride_id", ride}, {"reason", reason}});
  state["skipped"] = skips;
  write_file_durably(outbox / "state.json", state.dump(2, ' ', true) + "\n");
}

class DeliveryStopped : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Rank 0's work; returns the line for stdout. Throws AlertsInputError (exit 2) or DeliveryStopped (exit 1).
std::string work(const AlertsOptions& options) {
  const Run run = read_run(options.out);
  const fs::path outbox = options.out / "alerts_outbox";
  const fs::path sent_dir = outbox / "sent" / run.id;
  try {
    create_directories_durably(outbox);
  } catch (const std::exception& e) {
    throw AlertsInputError(e.what());
  }
  std::optional<OutboxLock> lock;
  std::optional<DeliveryLog> log_holder, dead_holder;
  const fs::path dead_path = options.out / "alerts_dead_letter.jsonl";
  const fs::path dead_dir = outbox / "dead" / run.id;
  try {
    lock.emplace(outbox);
    log_holder.emplace(outbox / "delivered.log");
    dead_holder.emplace(dead_path, DeliveryLog::Kind::DeadLetter);
  } catch (const std::exception& e) {
    throw AlertsInputError(e.what());
  }
  DeliveryLog& log = *log_holder;
  DeliveryLog& dead = *dead_holder;

  // An outbox of an earlier run in this folder: its queued messages are dropped (their alerts are
  // rebuilt from this run, and alerts it delivered are recognised by their key).
  std::string previous_run;
  if (fs::is_regular_file(outbox / "state.json")) {
    try {
      previous_run = nlohmann::json::parse(read_file(outbox / "state.json")).value("run_id", std::string());
    } catch (const nlohmann::json::exception&) {
      previous_run.clear();  // a state.json is only a report: the delivery log is what counts
    }
  }
  if (!previous_run.empty() && previous_run != run.id && options.progress)
    std::cerr << "alerts: the outbox held the messages of an earlier run (" << previous_run
              << "); its undelivered ones are replaced by this run's (" << run.id << ")\n";

  Outcome outcome;
  outcome.alerts = run.alerts.size();
  std::vector<std::pair<std::int64_t, std::string>> skipped, other_run;
  const std::int64_t now = utc_now_micros();
  std::set<std::string> keep;
  for (const auto& row : run.alerts) {
    if (log.delivered(run.id, row.ride_id)) {
      ++outcome.delivered_before;
      continue;
    }
    const std::string key = alert_key(row.user_id, row.alert_time, row.bike);
    // Refused for good before (this run or an earlier one): a line in the dead-letter file is final
    // until someone removes it.
    if (dead.delivered(run.id, row.ride_id) || !dead.delivered_by(key).empty()) {
      ++outcome.dead_before;
      continue;
    }
    const std::string by = log.delivered_by(key);
    if (!by.empty()) {
      ++outcome.delivered_other_run;
      other_run.emplace_back(row.ride_id, by);
      continue;
    }
    const std::string problem = address_problem(row.email);
    if (!problem.empty()) {
      ++outcome.skipped[problem];
      ++outcome.skipped_total;
      skipped.emplace_back(row.ride_id, problem);
      continue;
    }
    Queued q{row, build_alert_message(row, options.from, run.id, now)};
    const fs::path file = outbox / eml_name(row.ride_id);
    std::error_code ec;
    bool unchanged = false;
    if (fs::is_regular_file(file, ec)) {
      const std::string existing = read_file(file);
      if (without_date(existing) == without_date(q.message.text)) {
        q.message.text = existing;  // the same message: keep the file and its Date
        unchanged = true;
      }
    }
    if (!unchanged) write_file_durably(file, q.message.text);
    keep.insert(file.filename().string());
    outcome.queued.push_back(std::move(q));
  }
  // Messages no longer queued: delivered ones whose move to sent/ a crash cut short go there now;
  // others (an earlier run's) are removed.
  std::set<std::string> delivered_files, dead_files;
  for (const auto& row : run.alerts) {
    if (log.delivered(run.id, row.ride_id)) delivered_files.insert(eml_name(row.ride_id));
    if (dead.delivered(run.id, row.ride_id)) dead_files.insert(eml_name(row.ride_id));
  }
  std::vector<fs::path> stale;
  for (const auto& entry : fs::directory_iterator(outbox)) {
    const std::string name = entry.path().filename().string();
    if (entry.is_regular_file() && name.starts_with("alert-") && name.ends_with(".eml") && keep.count(name) == 0U)
      stale.push_back(entry.path());
  }
  bool removed = false;
  for (const auto& path : stale) {
    const std::string name = path.filename().string();
    if (delivered_files.count(name) != 0U && previous_run == run.id) {
      create_directories_durably(sent_dir);
      rename_durably(path, sent_dir / name);
    } else if (dead_files.count(name) != 0U && previous_run == run.id) {
      create_directories_durably(dead_dir);
      rename_durably(path, dead_dir / name);
    } else {
      fs::remove(path);
      removed = true;
    }
  }
  if (removed) fsync_directory(outbox);
  write_state(outbox, run, options.out, outcome, outcome.queued, log, dead, skipped, other_run);

  const std::string where = (options.out / "alerts_outbox").string();
  if (!options.send) {
    return "alerts: " + std::to_string(outcome.alerts) + " alerts in run " + run.id + ": " +
           std::to_string(outcome.queued.size()) + " queued in " + where + counts_text(outcome);
  }

  const std::size_t total = outcome.queued.size();
  std::size_t sent = 0;
  long crash_after = 0;
  long crash_after_dead = 0;
  if (const char* hook = std::getenv("MPILAKE_ALERTS_CRASH_AFTER")) crash_after = std::strtol(hook, nullptr, 10);
  if (const char* hook = std::getenv("MPILAKE_ALERTS_CRASH_AFTER_DEAD_LETTER"))
    crash_after_dead = std::strtol(hook, nullptr, 10);
  if (total > 0) {
    SmtpSender sender(*options.send, options.from.address);
    if (options.progress)
      std::cerr << "alerts: sending " << total << " messages to " << options.send->url << " (TLS "
                << (options.send->url.starts_with("smtps://") ? std::string_view("implicit")
                                                              : tls_mode_name(default_tls_mode(*options.send)))
                << (options.send->login ? ", login " + options.send->login->user : std::string()) << ")\n"
                << std::flush;
    auto last_progress = std::chrono::steady_clock::now();
    for (std::size_t i = 0; i < total; ++i) {
      const Queued& q = outcome.queued[i];
      SendResult result = sender.send(q.message.recipient, q.message.text);
      // Temporary failures: the same message again after a growing pause, a bounded number of times.
      for (int attempt = 1; !result.ok && result.failure == SendFailure::Temporary && attempt <= options.retries;
           ++attempt) {
        double wait = options.retry_delay_s;
        for (int k = 1; k < attempt; ++k) wait *= 2;
        wait = std::min(wait, 60.0);
        if (options.progress)
          std::cerr << "alerts: ride " << q.row.ride_id << ": " << result.error << "; retry " << attempt << " of "
                    << options.retries << " in " << wait << " s\n"
                    << std::flush;
        std::this_thread::sleep_for(std::chrono::duration<double>(wait));
        result = sender.send(q.message.recipient, q.message.text);
      }
      if (!result.ok && result.failure == SendFailure::Permanent) {
        // Refused for good: recorded (and on disk) before the next message, then the rest go on.
        dead.append(DeliveryRecord{run.id, q.row.ride_id, q.message.message_id,
                                   alert_key(q.row.user_id, q.row.alert_time, q.row.bike), utc_now_text(),
                                   q.message.recipient, result.reply_code, result.error});
        ++outcome.dead_now;
        if (crash_after_dead > 0 && static_cast<long>(outcome.dead_now) == crash_after_dead) _exit(kCrashHookExitCode);
        create_directories_durably(dead_dir);
        rename_durably(outbox / eml_name(q.row.ride_id), dead_dir / eml_name(q.row.ride_id));
        if (options.progress)
          std::cerr << "alerts: ride " << q.row.ride_id << " refused for good, written to " << dead_path.string()
                    << ": " << result.error << "\n"
                    << std::flush;
        continue;
      }
      if (!result.ok) {
        std::vector<Queued> left(outcome.queued.begin() + static_cast<std::ptrdiff_t>(i), outcome.queued.end());
        write_state(outbox, run, options.out, outcome, left, log, dead, skipped, other_run);
        const std::string counts = std::to_string(sent) + " of " + std::to_string(total) + " sent, " +
                                   (outcome.dead_now > 0 ? std::to_string(outcome.dead_now) + " dead letters, " : "") +
                                   std::to_string(left.size()) + " left queued in " + where;
        if (result.failure == SendFailure::Fatal) throw DeliveryStopped(result.error + "; " + counts);
        throw DeliveryStopped("sending stopped at the alert of ride " + std::to_string(q.row.ride_id) + ": " +
                              result.error + "; " + counts + " (rerun to send them)");
      }
      // Recorded (and on disk) before the next message goes out: a rerun never sends it again.
      log.append(DeliveryRecord{run.id,
                                q.row.ride_id,
                                q.message.message_id,
                                alert_key(q.row.user_id, q.row.alert_time, q.row.bike),
                                utc_now_text(),
                                {},
                                0,
                                {}});
      ++sent;
      if (crash_after > 0 && static_cast<long>(sent) == crash_after) _exit(kCrashHookExitCode);
      if (sent == 1) create_directories_durably(sent_dir);
      rename_durably(outbox / eml_name(q.row.ride_id), sent_dir / eml_name(q.row.ride_id));
      const auto now_tick = std::chrono::steady_clock::now();
      if (options.progress && (total <= 100 || sent == total || now_tick - last_progress >= std::chrono::seconds(1))) {
        std::cerr << "alerts: sent " << sent << " of " << total << " (ride " << q.row.ride_id << ")\n" << std::flush;
        last_progress = now_tick;
      }
    }
  }
  write_state(outbox, run, options.out, outcome, {}, log, dead, skipped, other_run);
  return "alerts: " + std::to_string(outcome.alerts) + " alerts in run " + run.id + ": " + std::to_string(sent) +
         " sent now" + counts_text(outcome) + ", 0 left queued";
}

}  // namespace

int run_alerts(const Comm& comm, const AlertsOptions& options) {
  int code = 0;
  std::string line;
  if (comm.is_root()) {
    try {
      line = work(options);
    } catch (const AlertsInputError& e) {
      code = 2;
      line = e.what();
    } catch (const DeliveryStopped& e) {
      code = 1;
      line = e.what();
    } catch (const std::exception& e) {
      code = 2;
      line = e.what();
    }
    if (code == 0)
      std::cout << line << "\n" << std::flush;
    else
      std::cerr << "mpilake: error: " << line << "\n" << std::flush;
  }
  return std::stoi(comm.broadcast(std::to_string(code)));
}

}  // namespace mpilake::alerts
