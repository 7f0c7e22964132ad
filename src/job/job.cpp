#include "mpilake/job/job.hpp"

#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <limits>

#include "mpilake/io/atomic_file.hpp"
#include "mpilake/io/range_lines.hpp"
#include "mpilake/job/env_knob.hpp"
#include "mpilake/job/output_folder.hpp"
#include "mpilake/mpi/memory_guard.hpp"
#include "mpilake/util/crc32c.hpp"
#include "mpilake/version.hpp"

namespace mpilake::job {

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

Job::Job(const Comm& comm, const JobOptions& options, std::string pipeline, std::vector<std::string> stages)
    : comm_(comm),
      options_(options),
      clock_(std::move(stages)),
      progress_(options.progress && comm.is_root(), options.progress_interval_seconds),
      started_(MPI_Wtime()) {
  stats_.pipeline = std::move(pipeline);
  stats_.ranks = comm.size();
  stats_.created_utc = comm.broadcast(comm.is_root() ? utc_now() : std::string());
}

const std::vector<SourceFiles>& Job::discover(const std::vector<std::string>& sources, std::size_t stage) {
  landing_ = time(stage, [&] { return discover_landing(comm_, options_.landing, sources); });
  stats_.landing_bytes = 0;
  for (const auto& source : landing_) stats_.landing_bytes += source.total_bytes();
  return landing_;
}

const std::vector<SourceFiles>& Job::discover_streams(const std::string& topic, std::size_t stage) {
  landing_ = time(stage, [&] { return mpilake::discover_streams(comm_, options_.landing, topic); });
  stats_.landing_bytes = 0;
  for (const auto& source : landing_) stats_.landing_bytes += source.total_bytes();
  return landing_;
}

namespace {

std::int64_t my_landing_bytes(const Comm& comm, const std::vector<SourceFiles>& landing) {
  std::int64_t mine = 0;
  for (const auto& source : landing) mine += range_bytes(source, comm.rank(), comm.size());
  return mine;
}

std::string host_name() {
  char name[256] = {};
  if (gethostname(name, sizeof name - 1) != 0) return "unknown";
  return name;
}

// A rank's expected in-memory peak: `peak_per_landing_byte` x its landing bytes (`mine`) + `extra_bytes`
// + a base for the program, MPI and HDF5.
std::int64_t expected_peak(std::int64_t mine, double peak_per_landing_byte, std::int64_t extra_bytes) {
  constexpr std::int64_t kBaseBytes = std::int64_t{96} << 20;
  return static_cast<std::int64_t>(peak_per_landing_byte * static_cast<double>(mine)) + extra_bytes + kBaseBytes;
}

}  // namespace

MemoryShare Job::share_memory(double peak_per_landing_byte, std::int64_t extra_bytes) {
  const std::int64_t need = expected_peak(my_landing_bytes(comm_, landing_), peak_per_landing_byte, extra_bytes);
  const MemoryShare share = share_node_memory(comm_, need, options_.memory_limit);
  // Every node may report another limit (auto): the figures are those of the tightest node (-1: none
  // known anywhere). Both reductions run on every rank.
  const auto tightest = [&](std::int64_t bytes) {
    constexpr std::int64_t kNone = std::numeric_limits<std::int64_t>::max();
    const std::int64_t least = -comm_.allreduce_max(-(bytes < 0 ? kNone : bytes));
    return least == kNone ? std::int64_t{-1} : least;
  };
  stats_.memory.limit_bytes_per_node = tightest(share.node_limit);
  stats_.memory.budget_bytes_per_rank = tightest(share.per_rank);
  return share;
}

std::filesystem::path Job::scratch_root() const {
  return options_.scratch.empty() ? options_.out : options_.scratch;
}

std::string Job::describe_share(const MemoryShare& share) const {
  if (share.per_rank < 0) return "no limit";
  return format_bytes(share.per_rank) + " per rank (" + format_bytes(share.node_limit) + " for " +
         std::to_string(share.node_ranks) + (share.node_ranks == 1 ? " rank" : " ranks") +
         (options_.memory_limit < 0 ? " available" : " of --memory-limit") + ")";
}

std::filesystem::path Job::scratch_folder() const {
  // Named after the output folder: runs sharing a --scratch (their outputs differ: each holds its
  // output's lock) keep apart, and a rerun into the same output finds what a killed run left.
  std::error_code ec;
  const std::string out = std::filesystem::weakly_canonical(std::filesystem::absolute(options_.out), ec).string();
  char tag[16];
  std::snprintf(tag, sizeof tag, "%08x", crc32c(out));
  const std::string name = options_.out.filename().empty() ? options_.out.parent_path().filename().string()
                                                           : options_.out.filename().string();
  return ScratchFolder::rank_folder(scratch_root(), name + "-" + tag, comm_.rank());
}

OutputLock Job::prepare_output(const std::vector<std::string>& zones) const {
  return job::prepare_output(comm_, options_.out, options_.overwrite, zones);
}

void Job::parse_sources(std::size_t stage, const std::function<void(std::size_t, const ParseOptions&)>& parse) {
  std::string error;
  progress_.begin("parse", my_landing_bytes(comm_, landing_), ProgressUnit::Bytes);
  for (std::size_t s = 0; s < landing_.size(); ++s) parse_one(stage, s, parse, error);
  progress_.end();
  comm_.throw_if_any(error);
}

void Job::parse_source(std::size_t stage, std::size_t s, const std::function<void(const ParseOptions&)>& parse) {
  std::string error;
  progress_.begin("parse", my_landing_bytes(comm_, landing_), ProgressUnit::Bytes, bytes_before_source(s));
  parse_one(
      stage, s, [&](std::size_t, const ParseOptions& options) { parse(options); }, error);
  progress_.end();
  comm_.throw_if_any(error);
}

std::int64_t Job::bytes_before_source(std::size_t s) const {
  std::int64_t offset = 0;
  for (std::size_t before = 0; before < s; ++before)
    offset += range_bytes(landing_[before], comm_.rank(), comm_.size());
  return offset;
}

void Job::parse_one(std::size_t stage, std::size_t s,
                    const std::function<void(std::size_t, const ParseOptions&)>& parse, std::string& error) {
  ParseOptions options = options_.parse;
  options.on_progress = progress_.callback(bytes_before_source(s));
  // A file that cannot be read (or shrank) stops the job, but only after every rank has parsed,
  // so the ranks agree and one line reports it.
  try {
    time(stage, [&] { parse(s, options); });
  } catch (const InputError& e) {
    if (error.empty()) error = e.what();
  }
}

Table Job::exchange(const Table& rows, std::span<const int> destination, std::size_t stage) {
  ExchangeOptions options = options_.exchange;
  if (round_cap_bytes_ > 0) options.max_round_bytes = std::min(options.max_round_bytes, round_cap_bytes_);
  progress_.begin("exchange", 0, ProgressUnit::Rounds);
  options.on_round = progress_.callback();
  Table result = time(stage, [&] { return exchange_rows(comm_, rows, destination, options, &exchange_); });
  progress_.end();
  return result;
}

std::vector<Attribute> Job::zone_attributes(const std::string& zone,
                                            const std::vector<Attribute>& pipeline_attributes) const {
  std::vector<std::string> files;
  std::vector<std::int64_t> bytes;
  for (const auto& source : landing_)
    for (const auto& file : source.files) {
      files.push_back(file.path);
      bytes.push_back(file.bytes);
    }
  std::vector<Attribute> attributes = {{"zone", zone}};
  attributes.insert(attributes.end(), pipeline_attributes.begin(), pipeline_attributes.end());
  attributes.insert(attributes.end(), {{"schema_version", std::int64_t{1}},
                                       {"created_utc", stats_.created_utc},
                                       {"mpilake_version", std::string(kVersion)},
                                       {"landing", options_.landing.string()},
                                       {"landing_files", files},
                                       {"landing_bytes", bytes},
                                       {"landing_total_bytes", stats_.landing_bytes}});
  return attributes;
}

void Job::write(const std::string& zone, const Table& rows, const std::vector<Attribute>& pipeline_attributes,
                std::size_t stage, const std::vector<const Table*>& extra,
                const std::vector<DictionaryColumn>& dictionaries) {
  ZoneLayout layout = options_.layout;
  progress_.begin("write " + zone + ".h5", 0, ProgressUnit::Columns);
  layout.on_column = progress_.callback();
  const auto result = time(stage, [&] {
    return write_zone(comm_, options_.out / (zone + ".h5"), rows, zone_attributes(zone, pipeline_attributes), layout,
                      extra, dictionaries);
  });
  progress_.end();
  stats_.zones.emplace_back(zone, result.rows);
  progress_.line("wrote " + zone + ".h5: " + std::to_string(result.rows) + " rows");
}

std::unique_ptr<ZoneAppender> Job::open_zone(const std::string& zone, Schema schema, ZoneAppendPlan plan,
                                             std::vector<Schema> extra,
                                             std::vector<DictionaryColumn> dictionaries) const {
  ZoneLayout layout = options_.layout;
  layout.on_column = {};
  return std::make_unique<ZoneAppender>(comm_, options_.out / (zone + ".h5"), std::move(schema), std::move(plan),
                                        layout, std::move(extra), std::move(dictionaries));
}

void Job::finish_zone(const std::string& zone, ZoneAppender& appender,
                      const std::vector<Attribute>& pipeline_attributes, std::size_t stage) {
  const auto result = time(stage, [&] { return appender.finish(zone_attributes(zone, pipeline_attributes)); });
  stats_.zones.emplace_back(zone, result.rows);
  progress_.line("wrote " + zone + ".h5: " + std::to_string(result.rows) + " rows");
}

void Job::cap_exchange_round(std::int64_t bytes) {
  round_cap_bytes_ = std::max<std::int64_t>(1, bytes);
}

void Job::write_collected(const std::string& zone, const SpillableRows& rows,
                          std::map<std::string, std::size_t> string_widths,
                          const std::vector<Attribute>& pipeline_attributes, std::size_t stage,
                          const std::vector<DictionaryColumn>& dictionaries) {
  std::vector<std::int64_t> blocks(static_cast<std::size_t>(comm_.size()), 0);
  blocks[static_cast<std::size_t>(comm_.rank())] = rows.blocks();
  blocks = comm_.allreduce_sum(blocks);
  const ZoneAppendPlan plan{comm_.allreduce_sum(rows.rows()), std::move(string_widths)};
  const auto appender = open_zone(zone, rows.tail().schema(), plan, {}, dictionaries);
  progress_.begin("write " + zone + ".h5", plan.rows, ProgressUnit::Rows);
  time(stage, [&] {
    const Table none(rows.tail().schema());
    SpillableRows::Blocks mine = rows.blocks_in_order();
    for (int turn = 0; turn < comm_.size(); ++turn)
      for (std::int64_t b = 0; b < blocks[static_cast<std::size_t>(turn)]; ++b) {
        const Table* block = &none;
        std::string error;
        if (turn == comm_.rank()) try {
            block = mine.next();
            if (block == nullptr) error = "writing '" + zone + "': the spilled rows end early";
          } catch (const std::exception& e) {
            error = e.what();
          }
        comm_.throw_if_any(error);
        appender->append(*block);
        progress_.update(appender->rows_appended());
      }
  });
  progress_.end();
  finish_zone(zone, *appender, pipeline_attributes, stage);
}

void Job::spill_quarantine(Quarantine& quarantine, ScratchFolder& folder) {
  const std::int64_t knob = env_count("MPILAKE_QUARANTINE_MEMORY_BYTES");
  quarantine.spill_to(folder, knob > 0 ? static_cast<std::size_t>(knob) : Quarantine::kSpillMemoryBytes);
}

std::int64_t Job::write_quarantine(Quarantine& quarantine, const std::vector<Attribute>& pipeline_attributes,
                                   std::size_t stage) {
  std::vector<Attribute> attributes = {{"zone", std::string("quarantine")}};
  attributes.insert(attributes.end(), pipeline_attributes.begin(), pipeline_attributes.end());
  attributes.insert(attributes.end(), {{"schema_version", std::int64_t{1}},
                                       {"created_utc", stats_.created_utc},
                                       {"mpilake_version", std::string(kVersion)}});
  // Runs spilled while the records came in (a budgeted run of many bad lines).
  const std::int64_t runs = comm_.allreduce_sum(quarantine.runs_spilled());
  if (runs > 0)
    progress_.line("quarantine: " + std::to_string(comm_.allreduce_sum(quarantine.rows())) + " records, " +
                   std::to_string(runs) + (runs == 1 ? " sorted run" : " sorted runs") +
                   " spilled; merging them into quarantine.jsonl and quarantine.h5");
  return time(stage, [&] {
    return mpilake::write_quarantine(comm_, quarantine, options_.out / "quarantine.jsonl",
                                     options_.out / "quarantine.h5", attributes);
  });
}

void Job::finish(const std::function<std::string()>& summary_json) {
  stats_.stages = clock_.slowest(comm_);
  stats_.exchange.bytes_sent = comm_.allreduce_sum(exchange_.bytes_sent);
  stats_.exchange.bytes_received = comm_.allreduce_sum(exchange_.bytes_received);
  stats_.exchange.rounds = exchange_.rounds;
  stats_.exchanges = per_rank_exchanges(comm_, exchange_.calls);
  const std::int64_t my_peak = peak_rss_bytes();
  stats_.peak_rss_bytes_max = comm_.allreduce_max(my_peak);
  std::vector<std::int64_t> peaks(static_cast<std::size_t>(comm_.size()), 0);
  peaks[static_cast<std::size_t>(comm_.rank())] = my_peak;
  stats_.peak_rss_bytes_per_rank = comm_.allreduce_sum(peaks);
  stats_.rank_hosts = comm_.all_gather(host_name());
  std::vector<std::int64_t> spilled(static_cast<std::size_t>(comm_.size()), 0);
  spilled[static_cast<std::size_t>(comm_.rank())] = stats_.memory.bytes_spilled_here;
  stats_.memory.bytes_spilled_per_rank = comm_.allreduce_sum(spilled);
  stats_.memory.bytes_spilled = comm_.allreduce_sum(stats_.memory.bytes_spilled_here);
  stats_.total_seconds = comm_.allreduce_max(MPI_Wtime() - started_);
  comm_.on_root([&] { write_file_atomically(options_.out / "summary.json", summary_json()); });
}

}  // namespace mpilake::job
