// `mpilake audit`: re-checks a finished run row by row against DESIGN.md's rules. Deliberately a
// separate, simple, single-process path: rank 0 re-reads the landing customers (with the engine's
// parser, so it accepts exactly the rows the run accepted), keeps small per-customer maps, and
// streams every zone through them in bounded chunks. Nothing here is shared with pipeline.cpp.
#include "mpilake/stedi/audit.hpp"

#include <simdjson.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <unordered_map>
#include <unordered_set>

#include "mpilake/h5/zone_chunks.hpp"
#include "mpilake/h5/zone_reader.hpp"
#include "mpilake/io/landing.hpp"
#include "mpilake/job/zone_audit.hpp"
#include "mpilake/json/record_parser.hpp"
#include "mpilake/json/source_parser.hpp"
#include "mpilake/quarantine/quarantine.hpp"
#include "mpilake/util/json_writer.hpp"

namespace mpilake::stedi {

namespace {

namespace fs = std::filesystem;
using job::column_names;
using job::Findings;
using job::json_quoted;

std::string int_text(std::int64_t value) {
  return value == kNullInt64 ? std::string("NULL") : std::to_string(value);
}

Schema customer_columns() {
  return customer_schema().table_schema();
}
Schema accelerometer_columns() {
  return accelerometer_schema().table_schema();
}
Schema step_trainer_columns() {
  return step_trainer_schema().table_schema();
}

// The exact values of a customer row (column order of customer_columns()); equal rows, equal keys.
std::string customer_key(const Table& table, std::size_t row) {
  std::string key;
  for (std::size_t c = 0; c < table.num_columns(); ++c) {
    if (table.schema()[c].type == ColumnType::String) {
      const auto value = table.strings(c)[row];
      const std::uint64_t length = value.size();
      key.append(reinterpret_cast<const char*>(&length), sizeof length);
      key.append(value);
    } else {
      const std::int64_t value = table.ints(c)[row];
      key.append(reinterpret_cast<const char*>(&value), sizeof value);
    }
  }
  return key;
}

std::string customer_values(const Table& table, std::size_t row) {
  return "email=" + json_quoted(table.strings(customer::kEmail)[row]) +
         " serialNumber=" + json_quoted(table.strings(customer::kSerialNumber)[row]) +
         " shareWithResearchAsOfDate=" + int_text(table.ints(customer::kShareWithResearchAsOfDate)[row]);
}

// summary.json, as far as the audit needs it.
struct RunRecord {
  bool read = false;
  std::string rules;
  std::map<std::string, std::int64_t> zone_rows;
  struct Source {
    std::int64_t lines = -1, accepted = -1, quarantined = -1;
  };
  std::map<std::string, Source> sources;
};

RunRecord read_summary(const fs::path& path, std::string& problem) {
  RunRecord record;
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (auto error = parser.load(path.string()).get(root)) {
    problem = std::string("cannot read ") + path.string() + ": " + simdjson::error_message(error);
    return record;
  }
  std::string_view rules;
  if (root["rules"].get(rules) == simdjson::SUCCESS) record.rules = std::string(rules);
  simdjson::dom::object zones;
  if (root["zones"].get(zones) == simdjson::SUCCESS) {
    for (auto field : zones) {
      std::int64_t rows = 0;
      if (field.value["rows"].get(rows) == simdjson::SUCCESS) record.zone_rows[std::string(field.key)] = rows;
    }
  }
  simdjson::dom::object sources;
  if (root["sources"].get(sources) == simdjson::SUCCESS) {
    for (auto field : sources) {
      RunRecord::Source source;
      // A missing figure stays -1 and then fails the lines = accepted + quarantined check.
      if (field.value["lines"].get(source.lines) != simdjson::SUCCESS) source.lines = -1;
      if (field.value["accepted"].get(source.accepted) != simdjson::SUCCESS) source.accepted = -1;
      if (field.value["quarantined"].get(source.quarantined) != simdjson::SUCCESS) source.quarantined = -1;
      record.sources[std::string(field.key)] = source;
    }
  }
  record.read = true;
  return record;
}

// String-keyed maps that are looked up with string_views (no allocation per zone row).
struct TextHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view text) const { return std::hash<std::string_view>{}(text); }
};
template <class Value>
using TextMap = std::unordered_map<std::string, Value, TextHash, std::equal_to<>>;
using TextSet = std::unordered_set<std::string, TextHash, std::equal_to<>>;

// What the audit knows about the landing customers, and what it learns from the zones in order.
struct Knowledge {
  TextSet landing_rows;                   // every accepted landing customer row
  TextMap<std::int64_t> consenting_rows;  // consenting row -> copies in landing
  TextMap<std::int64_t> min_consent;      // consenting email -> earliest consent
  // From valid accelerometer_trusted rows: email -> latest reading.
  TextMap<std::int64_t> latest_reading;
  // From valid customer_curated rows.
  TextMap<std::int64_t> curated_serial_consent;                    // serial -> earliest consent
  TextMap<std::set<std::string, std::less<>>> curated_serials_of;  // email -> serials
};

class Auditor {
 public:
  Auditor(const AuditOptions& options, AuditReport& report)
      : options_(options), report_(report), findings_(report, std::max<std::int64_t>(options.max_report, 0)) {}

  void run();

 private:
  void decide_rules();
  void read_landing_customers();
  void walk(const std::string& zone, const Schema& columns, const job::ZoneAuditor::CheckRow& check_row) {
    zones_->walk(zone, columns, check_row);
  }

  void customer_trusted();
  void accelerometer_trusted();
  void customer_curated();
  void step_trainer_trusted();
  void machine_learning_curated();

  const AuditOptions& options_;
  AuditReport& report_;
  Findings findings_;
  Rules rules_ = Rules::Privacy;
  RunRecord run_;
  std::optional<job::ZoneAuditor> zones_;
  Knowledge known_;
};

void Auditor::decide_rules() {
  // The rule set: --rules, else the zones' `rules` attribute (they must agree), else summary.json's.
  std::optional<std::string> written;  // the first zone's `rules` attribute
  for (const auto& zone : kZones) {
    const auto& meta = zones_->meta(zone);
    if (!meta.present || !meta.error.empty()) continue;
    const auto rules = meta.text("rules");
    if (!rules) {
      findings_.add(zone, -1, "`rules` attribute missing");
    } else if (!written) {
      written = rules;
    } else if (*rules != *written) {
      findings_.add(zone, -1, "`rules` attribute differs from the other zones",
                    "rules=" + json_quoted(*rules) + " first zone=" + json_quoted(*written));
    }
  }
  if (run_.read && written && run_.rules != *written)
    findings_.add("summary", -1, "summary.json rules differ from the zones'",
                  "rules=" + json_quoted(run_.rules) + " zones=" + json_quoted(*written));
  if (!written && !run_.rules.empty()) written = run_.rules;
  if (options_.rules_given) {
    rules_ = options_.rules;
  } else if (written && parse_rules(*written)) {
    rules_ = *parse_rules(*written);
  } else {
    throw std::runtime_error("cannot tell which rule set '" + options_.out.string() +
                             "' was written under (no readable `rules` attribute or summary.json); pass --rules");
  }
  report_.rules = std::string(rules_name(rules_));
  if (written && *written != report_.rules)
    findings_.add("rules", -1, "the zones were written under another rule set than the one audited",
                  "written=" + json_quoted(*written) + " audited=" + json_quoted(report_.rules));
}

void Auditor::read_landing_customers() {
  const Comm self(MPI_COMM_SELF);
  const auto landing = discover_landing(self, options_.landing, {"customer"});
  RecordParser parser(customer_schema());
  Quarantine quarantine;
  SourceStats stats;
  const Table customers = parse_source(self, landing.at(0), parser, quarantine, stats);
  for (std::size_t r = 0; r < customers.num_rows(); ++r) {
    std::string key = customer_key(customers, r);
    const std::int64_t consent = customers.ints(customer::kShareWithResearchAsOfDate)[r];
    if (consent != kNullInt64) {
      ++known_.consenting_rows[key];
      const std::string email(customers.strings(customer::kEmail)[r]);
      auto [it, inserted] = known_.min_consent.try_emplace(email, consent);
      if (!inserted) it->second = std::min(it->second, consent);
    }
    known_.landing_rows.insert(std::move(key));
  }
  // The landing must be the one the run read: its customer lines should parse to the same counts.
  if (run_.read) {
    const auto it = run_.sources.find("customer");
    if (it != run_.sources.end() && (it->second.accepted != stats.accepted || it->second.lines != stats.lines))
      findings_.add("summary", -1, "landing customers differ from the run's (was the landing changed?)",
                    "landing lines=" + std::to_string(stats.lines) + " accepted=" + std::to_string(stats.accepted) +
                        ", summary.json lines=" + std::to_string(it->second.lines) +
                        " accepted=" + std::to_string(it->second.accepted));
  }
}

// 1. customer_trusted: rows of the landing customers whose consent date is not NULL (duplicates kept,
//    so no row more often than in the landing).
void Auditor::customer_trusted() {
  auto remaining = known_.consenting_rows;
  walk("customer_trusted", customer_columns(), [&](const Table& t, std::size_t r, std::vector<std::string>& problems) {
    const std::string key = customer_key(t, r);
    if (t.ints(customer::kShareWithResearchAsOfDate)[r] == kNullInt64) {
      problems.push_back("customer did not consent (shareWithResearchAsOfDate is NULL)");
    } else if (!known_.landing_rows.contains(key)) {
      problems.push_back("not a row of the landing customers");
    } else {
      auto it = remaining.find(key);
      if (it == remaining.end() || it->second == 0)
        problems.push_back("more copies than in the landing customers");
      else
        --it->second;
    }
    return customer_values(t, r);
  });
}

// 2. accelerometer_trusted: `user` is the email of a consenting customer; under privacy the reading is
//    at or after that email's earliest consent.
void Auditor::accelerometer_trusted() {
  const bool privacy = rules_ == Rules::Privacy;
  walk("accelerometer_trusted", accelerometer_columns(),
       [&](const Table& t, std::size_t r, std::vector<std::string>& problems) {
         const auto user = t.strings(accelerometer::kUser)[r];
         const std::int64_t time = t.ints(accelerometer::kTimestamp)[r];
         const auto consent = known_.min_consent.find(user);
         if (consent == known_.min_consent.end())
           problems.push_back("user is not a consenting customer");
         else if (privacy && (time == kNullInt64 || time < consent->second))
           problems.push_back("reading taken before consent (" + int_text(consent->second) + ")");
         if (problems.empty()) {
           const auto it = known_.latest_reading.find(user);
           if (it == known_.latest_reading.end())
             known_.latest_reading.emplace(std::string(user), time);
           else
             it->second = std::max(it->second, time);
         }
         return "user=" + json_quoted(user) + " timestamp=" + int_text(time);
       });
}

// 3. customer_curated: distinct consenting landing customer rows with an accelerometer_trusted reading
//    (under privacy: at or after the row's own consent date).
void Auditor::customer_curated() {
  const bool privacy = rules_ == Rules::Privacy;
  TextMap<std::int64_t> first_row;
  std::int64_t row_index = 0;
  walk("customer_curated", customer_columns(), [&](const Table& t, std::size_t r, std::vector<std::string>& problems) {
    const std::string key = customer_key(t, r);
    const std::int64_t consent = t.ints(customer::kShareWithResearchAsOfDate)[r];
    const std::string email(t.strings(customer::kEmail)[r]);
    if (consent == kNullInt64)
      problems.push_back("customer did not consent (shareWithResearchAsOfDate is NULL)");
    else if (!known_.consenting_rows.contains(key))
      problems.push_back("not a row of the landing customers");
    const auto [first, inserted] = first_row.try_emplace(key, row_index);
    if (!inserted) problems.push_back("duplicate of row " + std::to_string(first->second));
    ++row_index;
    const auto reading = known_.latest_reading.find(email);
    if (reading == known_.latest_reading.end())
      problems.push_back("no accelerometer_trusted reading");
    else if (privacy && consent != kNullInt64 && reading->second < consent)
      problems.push_back("no accelerometer_trusted reading at or after consent (latest " + int_text(reading->second) +
                         ")");
    if (problems.empty() || (problems.size() == 1 && !inserted)) {
      const std::string serial(t.strings(customer::kSerialNumber)[r]);
      auto [it, added] = known_.curated_serial_consent.try_emplace(serial, consent);
      if (!added) it->second = std::min(it->second, consent);
      known_.curated_serials_of[email].insert(serial);
    }
    return customer_values(t, r);
  });
}

// 4. step_trainer_trusted: the serial is a curated customer's; under privacy the reading is at or after
//    the earliest consent among the curated customers with that serial.
void Auditor::step_trainer_trusted() {
  const bool privacy = rules_ == Rules::Privacy;
  walk("step_trainer_trusted", step_trainer_columns(),
       [&](const Table& t, std::size_t r, std::vector<std::string>& problems) {
         const auto serial = t.strings(step_trainer::kSerialNumber)[r];
         const std::int64_t time = t.ints(step_trainer::kSensorReadingTime)[r];
         const auto owner = known_.curated_serial_consent.find(serial);
         if (owner == known_.curated_serial_consent.end())
           problems.push_back("serialNumber is no curated customer's device");
         else if (privacy && (time == kNullInt64 || time < owner->second))
           problems.push_back("reading taken before consent (" + int_text(owner->second) + ")");
         return "serialNumber=" + json_quoted(serial) + " sensorReadingTime=" + int_text(time);
       });
}

// 5. machine_learning_curated: a step reading and an accelerometer reading of the same time; the user
//    consented (privacy: both readings at or after consent); the device is a curated customer's, and
//    under privacy/serial a device of that same user.
void Auditor::machine_learning_curated() {
  enum : std::size_t { kTime, kSerial, kDistance, kUser, kTimestamp };
  const bool privacy = rules_ == Rules::Privacy;
  const bool by_serial = rules_ != Rules::Rubric;
  walk("machine_learning_curated", machine_learning_schema(),
       [&](const Table& t, std::size_t r, std::vector<std::string>& problems) {
         const std::int64_t step_time = t.ints(kTime)[r];
         const std::int64_t time = t.ints(kTimestamp)[r];
         const auto serial = t.strings(kSerial)[r];
         const auto user = t.strings(kUser)[r];
         if (step_time != time) problems.push_back("sensorReadingTime differs from timestamp");
         const auto consent = known_.min_consent.find(user);
         if (consent == known_.min_consent.end())
           problems.push_back("user is not a consenting customer");
         else if (privacy && (time == kNullInt64 || time < consent->second))
           problems.push_back("accelerometer reading taken before consent (" + int_text(consent->second) + ")");
         const auto owner = known_.curated_serial_consent.find(serial);
         if (owner == known_.curated_serial_consent.end()) {
           problems.push_back("serialNumber is no curated customer's device");
         } else {
           if (privacy && (step_time == kNullInt64 || step_time < owner->second))
             problems.push_back("step reading taken before consent (" + int_text(owner->second) + ")");
           if (by_serial) {
             const auto serials = known_.curated_serials_of.find(user);
             if (serials == known_.curated_serials_of.end() || !serials->second.contains(serial))
               problems.push_back("serialNumber is not a device of this user");
           }
         }
         return "serialNumber=" + json_quoted(serial) + " sensorReadingTime=" + int_text(step_time) +
                " user=" + json_quoted(user) + " timestamp=" + int_text(time);
       });
}

void Auditor::run() {
  std::error_code ec;
  if (!fs::is_directory(options_.out, ec))
    throw std::runtime_error("output folder '" + options_.out.string() + "' does not exist or is not a folder");
  std::string problem;
  run_ = read_summary(options_.out / "summary.json", problem);
  if (!run_.read) findings_.add("summary", -1, "summary.json missing or unreadable", json_quoted(problem));
  zones_.emplace(options_.out, report_, findings_, options_.chunk_rows,
                 run_.read ? std::optional(run_.zone_rows) : std::nullopt);
  decide_rules();
  if (run_.read) {
    for (const auto& source : kSources) {
      const auto it = run_.sources.find(source);
      if (it == run_.sources.end()) {
        findings_.add("summary", -1, "source missing from summary.json", "source=" + json_quoted(source));
      } else if (it->second.lines < 0 || it->second.accepted < 0 || it->second.quarantined < 0 ||
                 it->second.lines != it->second.accepted + it->second.quarantined) {
        findings_.add("summary", -1, "lines read != accepted + quarantined",
                      "source=" + json_quoted(source) + " lines=" + std::to_string(it->second.lines) +
                          " accepted=" + std::to_string(it->second.accepted) +
                          " quarantined=" + std::to_string(it->second.quarantined));
      }
    }
  }
  read_landing_customers();
  customer_trusted();
  accelerometer_trusted();
  customer_curated();
  step_trainer_trusted();
  machine_learning_curated();
}

}  // namespace

AuditReport run_audit(const Comm& comm, const AuditOptions& options) {
  return job::audit_on_root(comm, [&](AuditReport& report) { Auditor(options, report).run(); });
}

}  // namespace mpilake::stedi
