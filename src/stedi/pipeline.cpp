#include "mpilake/stedi/pipeline.hpp"

#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <unordered_map>
#include <unordered_set>

#include "mpilake/h5/zone_writer.hpp"
#include "mpilake/io/atomic_file.hpp"
#include "mpilake/io/landing.hpp"
#include "mpilake/quarantine/quarantine.hpp"
#include "mpilake/shuffle/partitioner.hpp"
#include "mpilake/shuffle/sample_sort.hpp"
#include "mpilake/table/row_codec.hpp"
#include "mpilake/version.hpp"

namespace mpilake::stedi {

namespace {

struct StringHash {
  std::size_t operator()(std::string_view text) const { return hash_bytes(text); }
};
template <class Value>
using StringMap = std::unordered_map<std::string_view, Value, StringHash>;
using StringSet = std::unordered_set<std::string_view, StringHash>;

// The exact bytes of a row: equal rows have equal encodings (used for DISTINCT).
std::string row_identity(const Table& table, std::size_t row) {
  std::string bytes(encoded_row_size(table, row), '\0');
  encode_row(table, row, bytes.data());
  return bytes;
}

std::string utc_now() {
  const auto now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm parts{};
  gmtime_r(&now, &parts);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &parts);
  return text;
}

std::int64_t peak_rss_bytes() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<std::int64_t>(usage.ru_maxrss) * 1024;
}

// Accumulates per-stage wall time on this rank; stages may be entered several times.
class StageClock {
 public:
  explicit StageClock(std::vector<std::string> stages) : names_(std::move(stages)), seconds_(names_.size(), 0) {}
  template <class Work>
  decltype(auto) time(std::size_t stage, Work&& work) {
    const double start = MPI_Wtime();
    struct Add {
      double& total;
      double start;
      ~Add() { total += MPI_Wtime() - start; }
    } add{seconds_[stage], start};
    return work();
  }
  std::vector<StageTime> slowest(const Comm& comm) const {
    std::vector<StageTime> result;
    for (std::size_t i = 0; i < names_.size(); ++i) result.push_back({names_[i], comm.allreduce_max(seconds_[i])});
    return result;
  }

 private:
  std::vector<std::string> names_;
  std::vector<double> seconds_;
};

enum Stage : std::size_t { kSplit, kParse, kShuffle, kJoin, kSort, kWrite };

class StediJob {
 public:
  StediJob(const Comm& comm, const RunOptions& options)
      : comm_(comm), options_(options), clock_({"split", "parse", "shuffle", "join", "sort", "write"}) {}

  RunSummary run();

 private:
  void progress(const std::string& line) const {
    if (options_.progress && comm_.is_root()) std::fprintf(stderr, "[mpilake] %s\n", line.c_str());
  }
  Table shuffle(const Table& rows, const std::vector<int>& destination) {
    return clock_.time(kShuffle,
                       [&] { return exchange_rows(comm_, rows, destination, options_.exchange, &exchange_); });
  }
  template <class HashOfRow>
  Table shuffle_by(const Table& rows, HashOfRow&& hash_of_row) {
    return shuffle(rows, partition_rows(rows.num_rows(), comm_.size(), hash_of_row));
  }
  void write(const std::string& zone, const Table& rows, const std::vector<const Table*>& extra = {}) {
    const auto result = clock_.time(kWrite, [&] {
      return write_zone(comm_, options_.out / (zone + ".h5"), rows, zone_attributes(zone), options_.layout, extra);
    });
    summary_.zones.emplace_back(zone, result.rows);
    progress("wrote " + zone + ".h5: " + std::to_string(result.rows) + " rows");
  }
  std::vector<Attribute> zone_attributes(const std::string& zone) const {
    std::vector<std::string> files;
    std::vector<std::int64_t> bytes;
    for (const auto& source : landing_)
      for (const auto& file : source.files) {
        files.push_back(file.path);
        bytes.push_back(file.bytes);
      }
    return {{"zone", zone},
            {"rules", std::string(rules_name(options_.rules))},
            {"schema_version", std::int64_t{1}},
            {"created_utc", summary_.created_utc},
            {"mpilake_version", std::string(kVersion)},
            {"landing", options_.landing.string()},
            {"landing_files", files},
            {"landing_bytes", bytes},
            {"landing_total_bytes", summary_.landing_bytes}};
  }

  const Comm& comm_;
  const RunOptions& options_;
  StageClock clock_;
  ExchangeStats exchange_;
  RunSummary summary_;
  std::vector<SourceFiles> landing_;
};

RunSummary StediJob::run() {
  const double started = MPI_Wtime();
  const bool privacy = options_.rules == Rules::Privacy;
  summary_.rules = std::string(rules_name(options_.rules));
  summary_.ranks = comm_.size();
  summary_.created_utc = comm_.broadcast(comm_.is_root() ? utc_now() : std::string());

  // 1. Discover and split.
  landing_ = clock_.time(kSplit, [&] { return discover_landing(comm_, options_.landing, kSources); });
  for (const auto& source : landing_) summary_.landing_bytes += source.total_bytes();
  const OutputLock lock = prepare_output(comm_, options_.out, options_.overwrite);
  progress("landing " + options_.landing.string() + ": " + std::to_string(summary_.landing_bytes) + " bytes in " +
           std::to_string(landing_[0].files.size() + landing_[1].files.size() + landing_[2].files.size()) + " files, " +
           std::to_string(comm_.size()) + " ranks, rules " + summary_.rules);

  // 2. Parse each source's byte range on this rank.
  Quarantine quarantine;
  std::vector<Table> parsed;
  std::string parse_error;
  const std::vector<RecordSchema> schemas = {customer_schema(), accelerometer_schema(), step_trainer_schema()};
  for (std::size_t s = 0; s < kSources.size(); ++s) {
    SourceStats stats;
    RecordParser parser(schemas[s]);
    // A file that cannot be read (or shrank) stops the job, but only after every rank has parsed,
    // so the ranks agree and one line reports it.
    try {
      parsed.push_back(clock_.time(
          kParse, [&] { return parse_source(comm_, landing_[s], parser, quarantine, stats, options_.parse); }));
    } catch (const InputError& error) {
      if (parse_error.empty()) parse_error = error.what();
      parsed.emplace_back(parser.schema().table_schema());
    }
    summary_.sources.emplace_back(kSources[s], stats.summed(comm_));
  }
  comm_.throw_if_any(parse_error);
  progress("parsed " + std::to_string(summary_.sources[0].second.accepted) + " customers, " +
           std::to_string(summary_.sources[1].second.accepted) + " accelerometer and " +
           std::to_string(summary_.sources[2].second.accepted) + " step-trainer rows");
  Table& customers = parsed[0];
  Table& accelerometer = parsed[1];
  Table& steps = parsed[2];

  // 3. Customers and accelerometer rows meet on hash(email).
  Table customers_by_email =
      shuffle_by(customers, [&](std::size_t r) { return hash_bytes(customers.strings(customer::kEmail)[r]); });
  customers = Table();
  Table accelerometer_by_email = shuffle_by(
      accelerometer, [&](std::size_t r) { return hash_bytes(accelerometer.strings(accelerometer::kUser)[r]); });
  accelerometer = Table();

  Table customer_trusted(customers_by_email.schema());
  Table accelerometer_trusted(accelerometer_by_email.schema());
  Table customer_curated(customers_by_email.schema());
  std::int64_t duplicate_rows = 0, unknown_users = 0;
  std::unordered_set<std::string> curated_rows;  // identities of customer_curated's rows (used twice)
  clock_.time(kJoin, [&] {
    const auto& emails = customers_by_email.strings(customer::kEmail);
    const auto& consent = customers_by_email.ints(customer::kShareWithResearchAsOfDate);
    std::unordered_set<std::string> seen_rows;
    StringSet all_emails;
    StringMap<std::int64_t> earliest_consent;  // trusted email -> earliest consent date
    for (std::size_t r = 0; r < customers_by_email.num_rows(); ++r) {
      if (!seen_rows.insert(row_identity(customers_by_email, r)).second) ++duplicate_rows;
      all_emails.insert(emails[r]);
      if (consent[r] == kNullInt64) continue;
      customer_trusted.append_row(customers_by_email, r);
      auto [it, inserted] = earliest_consent.try_emplace(emails[r], consent[r]);
      if (!inserted) it->second = std::min(it->second, consent[r]);
    }
    const auto& users = accelerometer_by_email.strings(accelerometer::kUser);
    const auto& timestamps = accelerometer_by_email.ints(accelerometer::kTimestamp);
    StringMap<std::int64_t> latest_reading;  // email -> latest accelerometer_trusted timestamp
    for (std::size_t r = 0; r < accelerometer_by_email.num_rows(); ++r) {
      if (!all_emails.contains(users[r])) ++unknown_users;
      const auto consent_it = earliest_consent.find(users[r]);
      if (consent_it == earliest_consent.end()) continue;
      if (privacy && timestamps[r] < consent_it->second) continue;
      accelerometer_trusted.append_row(accelerometer_by_email, r);
      auto [it, inserted] = latest_reading.try_emplace(users[r], timestamps[r]);
      if (!inserted) it->second = std::max(it->second, timestamps[r]);
    }
    const auto& trusted_emails = customer_trusted.strings(customer::kEmail);
    const auto& trusted_consent = customer_trusted.ints(customer::kShareWithResearchAsOfDate);
    for (std::size_t r = 0; r < customer_trusted.num_rows(); ++r) {
      const auto reading = latest_reading.find(trusted_emails[r]);
      if (reading == latest_reading.end()) continue;
      // Under privacy the customer row needs a reading at or after its own consent date.
      if (privacy && reading->second < trusted_consent[r]) continue;
      if (curated_rows.insert(row_identity(customer_trusted, r)).second)
        customer_curated.append_row(customer_trusted, r);
    }
  });
  write("customer_trusted", customer_trusted);
  write("accelerometer_trusted", accelerometer_trusted);
  write("customer_curated", customer_curated);
  customer_trusted = Table();
  accelerometer_by_email = Table();

  // 4. Step-trainer rows meet the customers' serial numbers on hash(serialNumber). Every customer row
  //    travels (serial, email, consent, curated) so the same exchange also finds shared serials.
  Table serial_owners({{"serialNumber", ColumnType::String},
                       {"email", ColumnType::String},
                       {"consent", ColumnType::Int64},
                       {"curated", ColumnType::Int64}});
  clock_.time(kJoin, [&] {
    for (std::size_t r = 0; r < customers_by_email.num_rows(); ++r) {
      serial_owners.strings(0).push_back(customers_by_email.strings(customer::kSerialNumber)[r]);
      serial_owners.strings(1).push_back(customers_by_email.strings(customer::kEmail)[r]);
      serial_owners.ints(2).push_back(customers_by_email.ints(customer::kShareWithResearchAsOfDate)[r]);
      serial_owners.ints(3).push_back(curated_rows.contains(row_identity(customers_by_email, r)) ? 1 : 0);
      serial_owners.commit_row();
    }
  });
  customers_by_email = Table();
  curated_rows = {};
  Table owners_by_serial =
      shuffle_by(serial_owners, [&](std::size_t r) { return hash_bytes(serial_owners.strings(0)[r]); });
  serial_owners = Table();
  Table steps_by_serial =
      shuffle_by(steps, [&](std::size_t r) { return hash_bytes(steps.strings(step_trainer::kSerialNumber)[r]); });
  steps = Table();

  Table step_trainer_trusted(steps_by_serial.schema());
  std::vector<std::pair<std::string, std::int64_t>> shared_here;
  clock_.time(kJoin, [&] {
    StringMap<std::int64_t> earliest_curated_consent;
    StringMap<StringSet> owners;
    for (std::size_t r = 0; r < owners_by_serial.num_rows(); ++r) {
      const auto serial = owners_by_serial.strings(0)[r];
      owners[serial].insert(owners_by_serial.strings(1)[r]);
      if (owners_by_serial.ints(3)[r] == 0) continue;
      const std::int64_t consent = owners_by_serial.ints(2)[r];
      auto [it, inserted] = earliest_curated_consent.try_emplace(serial, consent);
      if (!inserted) it->second = std::min(it->second, consent);
    }
    for (const auto& [serial, emails] : owners)
      if (emails.size() > 1) shared_here.emplace_back(std::string(serial), static_cast<std::int64_t>(emails.size()));
    const auto& serials = steps_by_serial.strings(step_trainer::kSerialNumber);
    const auto& times = steps_by_serial.ints(step_trainer::kSensorReadingTime);
    for (std::size_t r = 0; r < steps_by_serial.num_rows(); ++r) {
      const auto it = earliest_curated_consent.find(serials[r]);
      if (it == earliest_curated_consent.end()) continue;
      if (privacy && times[r] < it->second) continue;
      step_trainer_trusted.append_row(steps_by_serial, r);
    }
  });
  write("step_trainer_trusted", step_trainer_trusted);
  steps_by_serial = Table();
  owners_by_serial = Table();

  // 5. Machine-learning join. privacy/serial: an accelerometer row takes the serial numbers of the
  //    curated customers with its email; key (serialNumber, timestamp). rubric: key timestamp alone.
  Table readings({{"serialNumber", ColumnType::String},
                  {"user", ColumnType::String},
                  {"timestamp", ColumnType::Int64},
                  {"x", ColumnType::Float64},
                  {"y", ColumnType::Float64},
                  {"z", ColumnType::Float64}});
  const bool by_serial = options_.rules != Rules::Rubric;
  clock_.time(kJoin, [&] {
    StringMap<std::vector<std::string_view>> serials_of;  // email -> distinct curated serials
    for (std::size_t r = 0; r < customer_curated.num_rows(); ++r) {
      auto& list = serials_of[customer_curated.strings(customer::kEmail)[r]];
      const auto serial = customer_curated.strings(customer::kSerialNumber)[r];
      if (std::find(list.begin(), list.end(), serial) == list.end()) list.push_back(serial);
    }
    const std::vector<std::size_t> from_accelerometer = {
        0, accelerometer::kUser, accelerometer::kTimestamp, accelerometer::kX, accelerometer::kY, accelerometer::kZ};
    for (std::size_t r = 0; r < accelerometer_trusted.num_rows(); ++r) {
      const auto user = accelerometer_trusted.strings(accelerometer::kUser)[r];
      const auto it = serials_of.find(user);
      if (!by_serial) {
        readings.strings(0).push_back({});
      } else if (it == serials_of.end()) {
        continue;
      }
      const std::size_t copies = by_serial ? it->second.size() : 1;
      for (std::size_t k = 0; k < copies; ++k) {
        if (by_serial) readings.strings(0).push_back(it->second[k]);
        readings.strings(1).push_back(user);
        readings.ints(2).push_back(accelerometer_trusted.ints(accelerometer::kTimestamp)[r]);
        readings.floats(3).push_back(accelerometer_trusted.floats(accelerometer::kX)[r]);
        readings.floats(4).push_back(accelerometer_trusted.floats(accelerometer::kY)[r]);
        readings.floats(5).push_back(accelerometer_trusted.floats(accelerometer::kZ)[r]);
        readings.commit_row();
      }
    }
  });
  accelerometer_trusted = Table();
  customer_curated = Table();
  const auto join_hash = [&](std::string_view serial, std::int64_t time) {
    return by_serial ? hash_combine(hash_bytes(serial), hash_int64(time)) : hash_int64(time);
  };
  Table readings_by_key =
      shuffle_by(readings, [&](std::size_t r) { return join_hash(readings.strings(0)[r], readings.ints(2)[r]); });
  readings = Table();
  Table steps_by_key = shuffle_by(step_trainer_trusted, [&](std::size_t r) {
    return join_hash(step_trainer_trusted.strings(step_trainer::kSerialNumber)[r],
                     step_trainer_trusted.ints(step_trainer::kSensorReadingTime)[r]);
  });
  step_trainer_trusted = Table();

  Table machine_learning(machine_learning_schema());
  clock_.time(kJoin, [&] {
    struct Key {
      std::string_view serial;
      std::int64_t time;
      bool operator==(const Key&) const = default;
    };
    struct KeyHash {
      std::size_t operator()(const Key& key) const {
        return hash_combine(hash_bytes(key.serial), hash_int64(key.time));
      }
    };
    // key -> first step row; further rows with that key are chained through `next_step`.
    std::unordered_map<Key, std::size_t, KeyHash> first_step;
    std::vector<std::size_t> next_step(steps_by_key.num_rows(), SIZE_MAX);
    const auto& step_serials = steps_by_key.strings(step_trainer::kSerialNumber);
    const auto& step_times = steps_by_key.ints(step_trainer::kSensorReadingTime);
    for (std::size_t r = steps_by_key.num_rows(); r-- > 0;) {
      const Key key{by_serial ? step_serials[r] : std::string_view{}, step_times[r]};
      auto [it, inserted] = first_step.try_emplace(key, r);
      if (!inserted) {
        next_step[r] = it->second;
        it->second = r;
      }
    }
    for (std::size_t a = 0; a < readings_by_key.num_rows(); ++a) {
      const Key key{readings_by_key.strings(0)[a], readings_by_key.ints(2)[a]};
      const auto it = first_step.find(key);
      if (it == first_step.end()) continue;
      for (std::size_t s = it->second; s != SIZE_MAX; s = next_step[s]) {
        machine_learning.ints(0).push_back(step_times[s]);
        machine_learning.strings(1).push_back(step_serials[s]);
        machine_learning.ints(2).push_back(steps_by_key.ints(step_trainer::kDistanceFromObject)[s]);
        machine_learning.strings(3).push_back(readings_by_key.strings(1)[a]);
        machine_learning.ints(4).push_back(readings_by_key.ints(2)[a]);
        machine_learning.floats(5).push_back(readings_by_key.floats(3)[a]);
        machine_learning.floats(6).push_back(readings_by_key.floats(4)[a]);
        machine_learning.floats(7).push_back(readings_by_key.floats(5)[a]);
        machine_learning.commit_row();
      }
    }
  });
  readings_by_key = Table();
  steps_by_key = Table();

  // 6. ML-ready layout: sorted by (serialNumber, timestamp) across the whole file (a distributed sample
  //    sort; one device's series stays on one rank), with a device index: device_serial[i] owns rows
  //    device_offset[i] .. device_offset[i+1] (the last offset is the row count).
  const std::vector<std::size_t> ml_key = {1, 4};  // serialNumber, timestamp
  machine_learning =
      clock_.time(kSort, [&] { return sort_globally(comm_, machine_learning, ml_key, options_.exchange, &exchange_); });
  Table device_serial({{"device_serial", ColumnType::String}});
  Table device_offset({{"device_offset", ColumnType::Int64}});
  clock_.time(kSort, [&] {
    const auto local_rows = static_cast<std::int64_t>(machine_learning.num_rows());
    const std::int64_t first_row = comm_.exscan_sum(local_rows);
    const std::int64_t total_rows = comm_.allreduce_sum(local_rows);
    const Table starts = group_starts(machine_learning, 1, first_row);
    for (std::size_t g = 0; g < starts.num_rows(); ++g) {
      device_serial.strings(0).push_back(starts.strings(0)[g]);
      device_serial.commit_row();
      device_offset.ints(0).push_back(starts.ints(1)[g]);
      device_offset.commit_row();
    }
    if (comm_.rank() == comm_.size() - 1) {
      device_offset.ints(0).push_back(total_rows);
      device_offset.commit_row();
    }
  });
  write("machine_learning_curated", machine_learning, {&device_serial, &device_offset});
  machine_learning = Table();

  // 7. Quarantine (gathered on rank 0: rejects are few and small) and the data-quality report.
  Table rejects =
      clock_.time(kWrite, [&] { return write_quarantine_jsonl(comm_, quarantine, options_.out / "quarantine.jsonl"); });
  clock_.time(kWrite, [&] {
    write_zone(comm_, options_.out / "quarantine.h5", rejects,
               {{"zone", std::string("quarantine")},
                {"rules", summary_.rules},
                {"schema_version", std::int64_t{1}},
                {"created_utc", summary_.created_utc},
                {"mpilake_version", std::string(kVersion)}});
  });
  summary_.quarantined = comm_.allreduce_sum(static_cast<std::int64_t>(quarantine.records().num_rows()));
  summary_.duplicate_customer_rows = comm_.allreduce_sum(duplicate_rows);
  summary_.unknown_user_readings = comm_.allreduce_sum(unknown_users);
  summary_.shared_serials = comm_.allreduce_sum(static_cast<std::int64_t>(shared_here.size()));
  {
    std::sort(shared_here.begin(), shared_here.end(), [](const auto& a, const auto& b) {
      return a.second != b.second ? a.second > b.second : a.first < b.first;
    });
    std::string mine;
    for (std::size_t i = 0; i < std::min<std::size_t>(5, shared_here.size()); ++i)
      mine += shared_here[i].first + '\t' + std::to_string(shared_here[i].second) + '\n';
    for (const auto& text : comm_.gather_to_root(mine)) {
      std::size_t at = 0;
      while (at < text.size()) {
        const auto tab = text.find('\t', at), end = text.find('\n', at);
        summary_.shared_serial_examples.emplace_back(text.substr(at, tab - at),
                                                     std::stoll(text.substr(tab + 1, end - tab - 1)));
        at = end + 1;
      }
    }
    auto& examples = summary_.shared_serial_examples;
    std::sort(examples.begin(), examples.end(), [](const auto& a, const auto& b) {
      return a.second != b.second ? a.second > b.second : a.first < b.first;
    });
    if (examples.size() > 5) examples.resize(5);
  }

  summary_.stages = clock_.slowest(comm_);
  summary_.exchange.bytes_sent = comm_.allreduce_sum(exchange_.bytes_sent);
  summary_.exchange.bytes_received = comm_.allreduce_sum(exchange_.bytes_received);
  summary_.exchange.rounds = exchange_.rounds;
  summary_.peak_rss_bytes_max = comm_.allreduce_max(peak_rss_bytes());
  summary_.total_seconds = comm_.allreduce_max(MPI_Wtime() - started);
  comm_.on_root([&] { write_file_atomically(options_.out / "summary.json", summary_json(summary_)); });
  return summary_;
}

}  // namespace

OutputLock prepare_output(const Comm& comm, const std::filesystem::path& out, bool overwrite) {
  namespace fs = std::filesystem;
  comm.on_root([&] {
    std::error_code ec;
    if (fs::exists(out, ec) && !fs::is_directory(out, ec))
      throw std::runtime_error("output path '" + out.string() + "' exists and is not a folder");
    fs::create_directories(out, ec);
    if (ec) throw std::runtime_error("cannot create output folder '" + out.string() + "': " + ec.message());
  });
  OutputLock lock = OutputLock::acquire(comm, out);
  comm.on_root([&] {
    if (overwrite) return;
    std::error_code ec;
    std::string found;
    for (const auto& zone : kZones)
      if (fs::exists(out / (zone + ".h5"), ec)) found += (found.empty() ? "" : ", ") + zone + ".h5";
    if (!found.empty())
      throw std::runtime_error("output folder '" + out.string() + "' already holds zones (" + found +
                               "); pass --overwrite to replace them");
  });
  return lock;
}

RunSummary run_stedi(const Comm& comm, const RunOptions& options) {
  return StediJob(comm, options).run();
}

}  // namespace mpilake::stedi
