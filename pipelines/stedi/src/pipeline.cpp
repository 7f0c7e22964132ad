#include "mpilake/stedi/pipeline.hpp"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <memory>
#include <numeric>
#include <optional>
#include <span>
#include <stdexcept>
#include <unordered_map>
#include <unordered_set>

#include "mpilake/h5/zone_writer.hpp"
#include "mpilake/io/landing.hpp"
#include "mpilake/io/range_lines.hpp"
#include "mpilake/io/spill_file.hpp"
#include "mpilake/io/spillable_rows.hpp"
#include "mpilake/job/env_knob.hpp"
#include "mpilake/mpi/every_rank.hpp"
#include "mpilake/mpi/fault.hpp"
#include "mpilake/quarantine/quarantine.hpp"
#include "mpilake/shuffle/partitioner.hpp"
#include "mpilake/shuffle/replicate.hpp"
#include "mpilake/shuffle/sample_sort.hpp"
#include "mpilake/stedi/ml_join.hpp"
#include "mpilake/table/key_index.hpp"
#include "mpilake/table/row_codec.hpp"

namespace mpilake::stedi {

namespace {

struct StringHash {
  std::size_t operator()(std::string_view text) const { return hash_bytes(text); }
};
template <class Value>
using StringMap = std::unordered_map<std::string_view, Value, StringHash>;
using StringSet = std::unordered_set<std::string_view, StringHash>;

// For each row, whether no earlier row has the same bytes (DISTINCT on whole rows): the rows'
// encodings (equal rows, equal bytes) go into one buffer and through one flat hash index, rather than
// a string and a node per row.
std::vector<bool> first_of_equal_rows(const Table& table) {
  const std::size_t rows = table.num_rows();
  std::vector<std::uint64_t> ends(rows);
  std::uint64_t bytes = 0;
  for (std::size_t r = 0; r < rows; ++r) ends[r] = bytes += encoded_row_size(table, r);
  std::string encoded(bytes, '\0');
  char* at = encoded.data();
  for (std::size_t r = 0; r < rows; ++r) at = encode_row(table, r, at);
  StringKeyIndex distinct(rows);
  std::vector<bool> first(rows);
  std::uint64_t begin = 0;
  for (std::size_t r = 0; r < rows; ++r) {
    first[r] = distinct.insert(std::string_view(encoded.data() + begin, ends[r] - begin)).second;
    begin = ends[r];
  }
  return first;
}

// The kept rows of a filter, in increasing order, as runs of consecutive rows: a filter over rows
// that come in long runs (a customer's readings, a device's) records a few runs, not a row index each.
class KeptRuns {
 public:
  void keep(std::size_t row) {
    if (!runs_.empty() && runs_.back().second == row)
      ++runs_.back().second;
    else
      runs_.emplace_back(row, row + 1);
    ++rows_;
  }
  const std::vector<std::pair<std::size_t, std::size_t>>& runs() const { return runs_; }  // [first, last)
  std::size_t rows() const { return rows_; }

 private:
  std::vector<std::pair<std::size_t, std::size_t>> runs_;
  std::size_t rows_ = 0;
};

// Appends the kept rows of `from` to `to` (same schema, no string columns) run by run: one insert
// per run and column.
void append_kept_runs(Table& to, const Table& from, const KeptRuns& kept) {
  for (std::size_t c = 0; c < to.num_columns(); ++c) {
    if (from.schema()[c].type == ColumnType::String) throw std::logic_error("append_kept_runs: a string column");
    const auto append_runs = [&](auto& into, const auto& values) {
      for (const auto& [first, last] : kept.runs())
        into.insert(into.end(), values.begin() + static_cast<std::ptrdiff_t>(first),
                    values.begin() + static_cast<std::ptrdiff_t>(last));
    };
    if (from.schema()[c].type == ColumnType::Int64) append_runs(to.ints(c), from.ints(c));
    if (from.schema()[c].type == ColumnType::Float64) append_runs(to.floats(c), from.floats(c));
  }
}

// The parser's rows of `schema` with its `key` string field stored as ids in `index`.
RecordParser parser_with_key_ids(const RecordSchema& schema, std::size_t key, const StringKeyIndex& index) {
  RecordParser parser(schema);
  parser.store_as_id(key, index);
  return parser;
}

// A per-row id column, as runs of one id: (id, rows) in row order.
class IdRuns {
 public:
  void push(std::int64_t id) {
    if (!runs_.empty() && runs_.back().first == id)
      ++runs_.back().second;
    else
      runs_.emplace_back(id, 1);
  }
  const std::vector<std::pair<std::int64_t, std::size_t>>& runs() const { return runs_; }

 private:
  std::vector<std::pair<std::int64_t, std::size_t>> runs_;
};

enum Stage : std::size_t { kSplit, kParse, kShuffle, kJoin, kSort, kWrite };

// machine_learning_curated's rows and its device index (device_serial[i] owns rows device_offset[i] ..
// device_offset[i + 1]; the last offset is the row count).
struct MlZoneRows {
  Table rows{machine_learning_schema()};
  Table device_serial{{{"device_serial", ColumnType::String}}};
  Table device_offset{{{"device_offset", ColumnType::Int64}}};
};

// The join's id rows (consumed) as zone rows: the ids become strings again. `first_row` is the zone row
// number of the first row; a `closing_offset` >= 0 is appended as the last device_offset (the zone's row
// count: by the last rank, with the zone's last rows). `emails_by_rank[i]` is the i-th email in byte order.
MlZoneRows ml_zone_rows(Table&& ml_ids, std::int64_t first_row, std::int64_t closing_offset,
                        const std::vector<std::string_view>& serial_names,
                        const std::vector<std::string_view>& emails_by_rank) {
  MlZoneRows zone;
  Table& machine_learning = zone.rows;
  const std::size_t rows = ml_ids.num_rows();
  const auto& serial_ids = ml_ids.ints(1);
  const auto& user_ranks = ml_ids.ints(3);
  machine_learning.ints(0) = std::move(ml_ids.ints(0));
  machine_learning.ints(2) = std::move(ml_ids.ints(2));
  machine_learning.ints(4) = std::move(ml_ids.ints(4));
  machine_learning.floats(5) = std::move(ml_ids.floats(5));
  machine_learning.floats(6) = std::move(ml_ids.floats(6));
  machine_learning.floats(7) = std::move(ml_ids.floats(7));
  std::size_t serial_bytes = 0, user_bytes = 0;
  for (std::size_t r = 0; r < rows; ++r) {
    serial_bytes += serial_names[static_cast<std::size_t>(serial_ids[r])].size();
    user_bytes += emails_by_rank[static_cast<std::size_t>(user_ranks[r])].size();
  }
  machine_learning.strings(1).reserve(rows, serial_bytes);
  machine_learning.strings(3).reserve(rows, user_bytes);
  for (std::size_t r = 0; r < rows; ++r) {
    machine_learning.strings(1).push_back(serial_names[static_cast<std::size_t>(serial_ids[r])]);
    machine_learning.strings(3).push_back(emails_by_rank[static_cast<std::size_t>(user_ranks[r])]);
  }
  machine_learning.set_rows_from_columns();

  const Table starts = group_starts(ml_ids, 1, first_row);  // runs of equal serial ids
  for (std::size_t g = 0; g < starts.num_rows(); ++g) {
    zone.device_serial.strings(0).push_back(serial_names[static_cast<std::size_t>(starts.ints(0)[g])]);
    zone.device_serial.commit_row();
    zone.device_offset.ints(0).push_back(starts.ints(1)[g]);
    zone.device_offset.commit_row();
  }
  if (closing_offset >= 0) {
    zone.device_offset.ints(0).push_back(closing_offset);
    zone.device_offset.commit_row();
  }
  return zone;
}

// The owner rank of each of a run of consecutive serials, given each one's rows: contiguous ranges of
// about equal rows, one per rank, so that the ranks' sorted join results follow each other in the
// zone's order (one device's series on one rank).
std::vector<int> contiguous_owners(std::span<const std::int64_t> rows_of, int ranks) {
  std::int64_t total = 0, before = 0;
  for (const std::int64_t rows : rows_of) total += rows;
  std::vector<int> owner;
  owner.reserve(rows_of.size());
  for (const std::int64_t rows : rows_of) {
    owner.push_back(static_cast<int>(std::min<std::int64_t>(ranks - 1, total == 0 ? 0 : (before * ranks) / total)));
    before += rows;
  }
  return owner;
}

// A rank's memory when the run is larger than its budget (issue 20; docs/spill.md): the kept facts go
// to spill files in blocks, and the machine-learning join runs in passes over serial ranges.
struct Budget {
  bool on = false;
  std::string announcement;     // the progress line saying why and where it spills (after the output is ready)
  std::int64_t work_bytes = 0;  // the budget less the fixed overhead and the customer dimension
  std::size_t block_rows = 0;   // kept fact rows per spill block
  std::int64_t pass_rows = 0;   // ML join input rows per rank and pass (about)
};

// Bytes a rank takes whatever the landing size: the program, MPI, HDF5 and parse buffers (measured
// in bench/README.md, "Issue 20").
constexpr std::int64_t kFixedBytes = std::int64_t{40} << 20;
// Less work memory than this is refused: blocks and passes would be too small to make progress.
constexpr std::int64_t kLeastWorkBytes = std::int64_t{16} << 20;

// The rules' root attribute on every zone.
std::vector<Attribute> rules_attribute(Rules rules) {
  return {{"rules", std::string(rules_name(rules))}};
}

class StediJob {
 public:
  StediJob(const Comm& comm, const RunOptions& options)
      : comm_(comm),
        options_(options),
        job_(comm, options.job, "stedi", {"split", "parse", "shuffle", "join", "sort", "write"}) {}

  RunSummary run();

 private:
  template <class Work>
  decltype(auto) time(std::size_t stage, Work&& work) {
    return job_.time(stage, std::forward<Work>(work));
  }
  Table shuffle(const Table& rows, const std::vector<int>& destination) {
    return job_.exchange(rows, destination, kShuffle);
  }
  template <class HashOfRow>
  Table shuffle_by(const Table& rows, HashOfRow&& hash_of_row) {
    return shuffle(rows, partition_rows(rows.num_rows(), comm_.size(), hash_of_row));
  }
  void write(const std::string& zone, const Table& rows, const std::vector<const Table*>& extra = {},
             const std::vector<DictionaryColumn>& dictionaries = {}) {
    job_.write(zone, rows, rules_attribute(options_.rules), kWrite, extra, dictionaries);
  }

  // Decides the budgeted path (or stays in memory) from the node's share; see Budget.
  void plan_budget(const MemoryShare& share, const std::vector<SourceFiles>& landing);
  // Budgeted: machine_learning_curated from the spilled kept rows (privacy and serial rules), in passes
  // over contiguous ranges of serial ids, so that a device never spans two passes and pass after pass
  // gives the zone's global order. Each pass's joined rows are spilled (their count and string widths
  // make the zone's plan), then appended pass by pass.
  void join_in_passes(const SpillableRows& accelerometer, const SpillableRows& steps,
                      const std::vector<std::vector<std::int64_t>>& serials_of,
                      const std::vector<std::int64_t>& email_rank, const std::vector<std::string_view>& serial_names,
                      const std::vector<std::string_view>& emails_by_rank);
  // Collective: the largest of the ranks' `mine` (a string width for a zone's plan).
  std::size_t widest(std::size_t mine) const {
    return static_cast<std::size_t>(comm_.allreduce_max(static_cast<std::int64_t>(mine)));
  }
  // See mpi/every_rank.hpp.
  template <class Work>
  void on_every_rank(Work&& work) {
    mpilake::on_every_rank(comm_, std::forward<Work>(work));
  }

  const Comm& comm_;
  const RunOptions& options_;
  job::Job job_;
  RunSummary summary_;
  Budget budget_;
  std::optional<ScratchFolder> scratch_;  // budgeted runs: this rank's spill folder
};

void StediJob::plan_budget(const MemoryShare& share, const std::vector<SourceFiles>& landing) {
  const std::int64_t forced_pass_rows = job::env_count("MPILAKE_STEDI_PASS_ROWS");
  const std::int64_t forced_block_rows = job::env_count("MPILAKE_SPILL_BLOCK_ROWS");
  if (share.fits && forced_pass_rows == 0) return;
  const std::string budget_text = job_.describe_share(share);
  if (options_.rules == Rules::Rubric)
    throw ConsistentError((share.fits ? std::string("MPILAKE_STEDI_PASS_ROWS asks for the budgeted path")
                                      : "this run does not fit in memory (" + budget_text + ")") +
                          " and the rubric rules have no budgeted path: their ML join sorts every row on the "
                          "timestamp alone; raise --memory-limit, run on more nodes, or use --rules privacy or serial");
  // The customers stay in memory (the dimension): this rank's range of them, parsed, and the replicated
  // emails and curated keys (about half the customer bytes).
  const std::int64_t dimension =
      static_cast<std::int64_t>(1.3 * static_cast<double>(range_bytes(landing[0], comm_.rank(), comm_.size()))) +
      landing[0].total_bytes() / 2;
  std::int64_t work = share.per_rank < 0 ? std::int64_t{1} << 30 : share.per_rank - kFixedBytes - dimension;
  work = -comm_.allreduce_max(-work);  // the tightest rank's, so every rank plans alike
  if (work < kLeastWorkBytes)
    throw ConsistentError("--memory-limit is too small for this run: " + budget_text + " leaves " +
                          format_bytes(std::max<std::int64_t>(0, work)) + " per rank after the fixed overhead (" +
                          format_bytes(kFixedBytes) + ") and the customer dimension (about " + format_bytes(dimension) +
                          " per rank, kept in memory); give at least " +
                          format_bytes((kFixedBytes + dimension + kLeastWorkBytes) * share.node_ranks) +
                          " per node, or run on more nodes");
  budget_.on = true;
  budget_.work_bytes = work;
  // A spill block of the widest kept fact (5 columns of 8 bytes) takes an eighth of the work memory;
  // a pass's join holds its input about four times over (read, exchanged, joined, as zone rows) at
  // up to 80 bytes a row.
  budget_.block_rows = forced_block_rows > 0 ? static_cast<std::size_t>(forced_block_rows)
                                             : static_cast<std::size_t>(std::max<std::int64_t>(1024, work / 8 / 40));
  budget_.pass_rows = forced_pass_rows > 0 ? forced_pass_rows : std::max<std::int64_t>(1024, work / 320);
  job_.cap_exchange_round(work / 8);
  job_.stats().memory.budgeted = true;
  budget_.announcement = "memory: " +
                         (share.fits ? std::string("MPILAKE_STEDI_PASS_ROWS forces the budgeted path")
                                     : budget_text + " is less than an in-memory run needs") +
                         ": spilling to " + (job_.scratch_root() / std::string(kScratchFolderName)).string() +
                         " and joining in passes";
}

void StediJob::join_in_passes(const SpillableRows& accelerometer, const SpillableRows& steps,
                              const std::vector<std::vector<std::int64_t>>& serials_of,
                              const std::vector<std::int64_t>& email_rank,
                              const std::vector<std::string_view>& serial_names,
                              const std::vector<std::string_view>& emails_by_rank) {
  // Rows of the join's input per serial id, all ranks: a reading counts once per serial of its email.
  std::vector<std::int64_t> rows_of(serial_names.size(), 0);
  time(kJoin, [&] {
    on_every_rank([&] {
      accelerometer.visit([&](const Table& block) {
        for (const std::int64_t email : block.ints(accelerometer::kUser))
          for (const std::int64_t serial : serials_of[static_cast<std::size_t>(email)])
            ++rows_of[static_cast<std::size_t>(serial)];
      });
      steps.visit([&](const Table& block) {
        for (const std::int64_t serial : block.ints(step_trainer::kSerialNumber))
          ++rows_of[static_cast<std::size_t>(serial)];
      });
    });
  });
  // The most rows of a serial on any one rank: a pass's rows may sit on one rank before the exchange.
  std::vector<std::int64_t> most_on_a_rank = rows_of;
  time(kShuffle, [&] {
    rows_of = comm_.allreduce_sum(rows_of);
    comm_.allreduce_max_in_place(most_on_a_rank);
  });
  // Passes: consecutive serial ids, each pass about pass_rows per rank after the exchange and at most
  // that on any rank before it (a device larger than that is a pass of its own).
  std::vector<std::size_t> pass_first = {0};
  {
    const std::int64_t target = budget_.pass_rows * comm_.size();
    std::int64_t in_pass = 0, most_in_pass = 0;
    for (std::size_t serial = 0; serial < rows_of.size(); ++serial) {
      if (in_pass > 0 &&
          (in_pass + rows_of[serial] > target || most_in_pass + most_on_a_rank[serial] > budget_.pass_rows)) {
        pass_first.push_back(serial);
        in_pass = most_in_pass = 0;
      }
      in_pass += rows_of[serial];
      most_in_pass += most_on_a_rank[serial];
    }
    pass_first.push_back(rows_of.size());
  }
  const std::size_t passes = pass_first.size() - 1;
  job_.stats().memory.passes = static_cast<std::int64_t>(passes);

  const Schema id_schema = machine_learning_id_schema();
  std::optional<SpillWriter> joined;
  on_every_rank([&] { joined.emplace(*scratch_, "machine_learning_curated", id_schema); });
  // The join's input of each pass, routed from the spilled rows into a partition file per pass, so a
  // pass reads only its own rows. In waves of at most kWave passes: a rank keeps at most 2 x kWave
  // files open and reads the spilled rows once per wave.
  constexpr std::size_t kWave = 256;
  std::vector<std::size_t> pass_of_serial(serial_names.size());
  for (std::size_t p = 0; p < passes; ++p)
    for (std::size_t serial = pass_first[p]; serial < pass_first[p + 1]; ++serial) pass_of_serial[serial] = p;
  std::vector<std::unique_ptr<SpillableRows>> reading_parts(passes), step_parts(passes);
  const auto route_wave = [&](std::size_t first_pass) {
    const std::size_t end_pass = std::min(passes, first_pass + kWave);
    // A quarter of the work memory buffers the wave's partitions (a reading row is 48 bytes).
    const auto buffered = static_cast<std::size_t>(
        std::max<std::int64_t>(256, budget_.work_bytes / 4 / 48 / static_cast<std::int64_t>(end_pass - first_pass)));
    for (std::size_t p = first_pass; p < end_pass; ++p) {
      reading_parts[p] = std::make_unique<SpillableRows>(ml_readings_schema(), &*scratch_,
                                                         "readings-pass-" + std::to_string(p + 1), buffered);
      step_parts[p] = std::make_unique<SpillableRows>(ml_step_keys_schema(), &*scratch_,
                                                      "steps-pass-" + std::to_string(p + 1), buffered);
    }
    const auto first = static_cast<std::int64_t>(pass_first[first_pass]);
    const auto end = static_cast<std::int64_t>(pass_first[end_pass]);
    accelerometer.visit([&](const Table& block) {
      const auto& users = block.ints(accelerometer::kUser);
      for (std::size_t r = 0; r < block.num_rows(); ++r) {
        const auto email = static_cast<std::size_t>(users[r]);
        for (const std::int64_t serial : serials_of[email]) {
          if (serial < first || serial >= end) continue;
          SpillableRows& part = *reading_parts[pass_of_serial[static_cast<std::size_t>(serial)]];
          Table& rows = part.tail();
          rows.ints(0).push_back(serial);
          rows.ints(1).push_back(email_rank[email]);
          rows.ints(2).push_back(block.ints(accelerometer::kTimestamp)[r]);
          rows.floats(3).push_back(block.floats(accelerometer::kX)[r]);
          rows.floats(4).push_back(block.floats(accelerometer::kY)[r]);
          rows.floats(5).push_back(block.floats(accelerometer::kZ)[r]);
          rows.commit_row();
          part.after_append();
        }
      }
    });
    steps.visit([&](const Table& block) {
      const auto& serials = block.ints(step_trainer::kSerialNumber);
      for (std::size_t r = 0; r < block.num_rows(); ++r) {
        if (serials[r] < first || serials[r] >= end) continue;
        SpillableRows& part = *step_parts[pass_of_serial[static_cast<std::size_t>(serials[r])]];
        Table& rows = part.tail();
        rows.ints(0).push_back(serials[r]);
        rows.ints(1).push_back(block.ints(step_trainer::kSensorReadingTime)[r]);
        rows.ints(2).push_back(block.ints(step_trainer::kDistanceFromObject)[r]);
        rows.commit_row();
        part.after_append();
      }
    });
    for (std::size_t p = first_pass; p < end_pass; ++p) {
      reading_parts[p]->close();
      step_parts[p]->close();
    }
  };
  std::vector<std::int64_t> pass_rows(passes, 0);  // joined rows of each pass, this rank
  std::size_t serial_width = 1, user_width = 1;
  for (std::size_t p = 0; p < passes; ++p) {
    const auto first = static_cast<std::int64_t>(pass_first[p]), end = static_cast<std::int64_t>(pass_first[p + 1]);
    Table readings, step_keys;
    time(kJoin, [&] {
      on_every_rank([&] {
        if (!reading_parts[p]) route_wave(p);
        readings = reading_parts[p]->all_rows();
        step_keys = step_parts[p]->all_rows();
        reading_parts[p]->discard();
        step_parts[p]->discard();
        reading_parts[p].reset();
        step_parts[p].reset();
      });
    });
    // The pass's serials in contiguous ranges, one per rank, as in the in-memory join.
    const std::vector<int> owner =
        contiguous_owners(std::span<const std::int64_t>(rows_of).subspan(static_cast<std::size_t>(first),
                                                                         static_cast<std::size_t>(end - first)),
                          comm_.size());
    const auto destinations = [&](const Table& rows) {
      std::vector<int> destination(rows.num_rows());
      for (std::size_t r = 0; r < rows.num_rows(); ++r)
        destination[r] = owner[static_cast<std::size_t>(rows.ints(0)[r] - first)];
      return destination;
    };
    Table readings_by_serial = shuffle(readings, destinations(readings));
    readings = Table();
    Table steps_by_serial = shuffle(step_keys, destinations(step_keys));
    step_keys = Table();
    Table ml_ids = time(kJoin, [&] {
      return join_readings_with_steps(std::move(readings_by_serial), std::move(steps_by_serial), true);
    });
    for (const std::int64_t serial : ml_ids.ints(1))
      serial_width = std::max(serial_width, serial_names[static_cast<std::size_t>(serial)].size());
    for (const std::int64_t user : ml_ids.ints(3))
      user_width = std::max(user_width, emails_by_rank[static_cast<std::size_t>(user)].size());
    pass_rows[p] = static_cast<std::int64_t>(ml_ids.num_rows());
    time(kWrite, [&] { on_every_rank([&] { joined->append(ml_ids); }); });
    const std::int64_t pass_total = comm_.allreduce_sum(pass_rows[p]);
    const std::int64_t spilled = comm_.allreduce_sum(scratch_->bytes_spilled());
    job_.progress().line("pass " + std::to_string(p + 1) + " of " + std::to_string(passes) + ": " +
                         std::to_string(end - first) + " devices, " + std::to_string(pass_total) + " joined rows; " +
                         format_bytes(spilled) + " spilled so far");
    fault_point("pass", comm_);
  }
  on_every_rank([&] { joined->close(); });

  // The zone: its plan from the passes, then pass after pass, each rank its rows of the pass.
  const std::vector<std::int64_t> rows_per_pass = comm_.allreduce_sum(pass_rows);
  std::int64_t total_rows = 0;
  for (const std::int64_t rows : rows_per_pass) total_rows += rows;
  const ZoneAppendPlan plan{total_rows, {{"serialNumber", widest(serial_width)}, {"user", widest(user_width)}}};
  const auto zone = job_.open_zone("machine_learning_curated", machine_learning_schema(), plan,
                                   {{{"device_serial", ColumnType::String}}, {{"device_offset", ColumnType::Int64}}});
  job_.progress().begin("write machine_learning_curated.h5", total_rows, job::ProgressUnit::Rows);
  time(kWrite, [&] {
    std::optional<SpillReader> reader;
    on_every_rank([&] { reader.emplace(joined->path(), id_schema); });
    std::int64_t before_pass = 0;
    for (std::size_t p = 0; p < passes; ++p) {
      Table block(id_schema);
      on_every_rank([&] {
        if (!reader->next(block))
          throw std::runtime_error("corrupt spill file " + joined->path().string() + ": it ends before pass " +
                                   std::to_string(p + 1));
      });
      const std::int64_t first_row = before_pass + comm_.exscan_sum(static_cast<std::int64_t>(block.num_rows()));
      const bool last = p + 1 == passes && comm_.rank() == comm_.size() - 1;
      MlZoneRows rows = ml_zone_rows(std::move(block), first_row, last ? total_rows : -1, serial_names, emails_by_rank);
      zone->append(rows.rows, {&rows.device_serial, &rows.device_offset});
      before_pass += rows_per_pass[p];
      job_.progress().update(zone->rows_appended());
    }
  });
  job_.progress().end();
  job_.finish_zone("machine_learning_curated", *zone, rules_attribute(options_.rules), kWrite);
}

RunSummary StediJob::run() {
  const bool privacy = options_.rules == Rules::Privacy;
  summary_.rules = std::string(rules_name(options_.rules));

  // 1. Discover and split. The peak per rank is about 1.3 x its landing bytes (measured:
  //    bench/README.md), plus the replicated customer dimension (a fraction of the customer files).
  //    When that does not fit the node's budget, the run takes the budgeted path (plan_budget).
  const auto& landing = job_.discover(kSources, kSplit);
  plan_budget(job_.share_memory(1.3, landing[0].total_bytes() / 2), landing);
  const OutputLock lock = job_.prepare_output(kZones);
  if (budget_.on) on_every_rank([&] { scratch_.emplace(job_.scratch_folder()); });
  if (budget_.on) job_.progress().line(budget_.announcement);
  ScratchFolder* const scratch = scratch_ ? &*scratch_ : nullptr;
  job_.progress().line("landing " + options_.job.landing.string() + ": " + std::to_string(job_.stats().landing_bytes) +
                       " bytes in " +
                       std::to_string(landing[0].files.size() + landing[1].files.size() + landing[2].files.size()) +
                       " files, " + std::to_string(comm_.size()) + " ranks, rules " + summary_.rules);

  // 2. Parse the customers' byte range on this rank. The facts (accelerometer, step trainer) are
  //    parsed later, each once the keys it is filtered on are on every rank: the filter then runs on
  //    each batch of rows as it is parsed, and only the kept rows, with dense ids for the email and
  //    serial strings, are stored (about half the rows and a fifth of the bytes of the raw facts).
  Quarantine quarantine;
  if (scratch) job::Job::spill_quarantine(quarantine, *scratch);
  const std::vector<RecordSchema> schemas = {customer_schema(), accelerometer_schema(), step_trainer_schema()};
  std::vector<SourceStats> source_stats(kSources.size());
  // Parses source s with `parser` into `into`, keeping of each batch of parsed rows the ones
  // `select(rows, kept)` records in `kept`. Budgeted, the kept rows go to `into`'s spill file block by
  // block; a spill error (a full scratch disk) stops every rank once the parse is over.
  const auto parse_filtered = [&](std::size_t s, RecordParser& parser, SpillableRows& into, const auto& select) {
    KeptRuns kept;
    RangeReservation reservation;
    std::string spill_error;
    job_.parse_source(kParse, s, [&](const ParseOptions& parse) {
      parse_source_into(comm_, landing[s], parser, quarantine, source_stats[s], parse,
                        [&](Table& rows, std::int64_t parsed_bytes, std::int64_t range_bytes) {
                          if (!spill_error.empty()) return;
                          kept = {};
                          select(rows, kept);
                          append_kept_runs(into.tail(), rows, kept);
                          into.tail().set_rows_from_columns();
                          if (!into.spilling()) {
                            reservation.after_batch(into.tail(), parsed_bytes, range_bytes);
                            return;
                          }
                          try {
                            into.after_append();
                          } catch (const std::exception& e) {
                            spill_error = e.what();
                          }
                        });
    });
    comm_.throw_if_any(spill_error.empty() ? quarantine.spill_error() : spill_error);
    on_every_rank([&] { into.close(); });
  };
  Table customers(schemas[0].table_schema());
  job_.parse_source(kParse, 0, [&](const ParseOptions& parse) {
    RecordParser parser(schemas[0]);
    customers = parse_source(comm_, landing[0], parser, quarantine, source_stats[0], parse);
  });
  comm_.throw_if_any(quarantine.spill_error());

  // 3. The customers (the dimension: small) meet on hash(email). Each email's owner rank finds its
  //    duplicates, its trusted rows and its earliest consent date.
  Table customers_by_email =
      shuffle_by(customers, [&](std::size_t r) { return hash_bytes(customers.strings(customer::kEmail)[r]); });
  customers = Table();

  Table customer_trusted(customers_by_email.schema());
  Table my_emails({{"email", ColumnType::String}, {"consent", ColumnType::Int64}});  // distinct, earliest consent
  std::int64_t duplicate_rows = 0, unknown_users = 0;
  std::vector<bool> trusted_first;  // per customer_trusted row: no earlier trusted row is equal
  time(kJoin, [&] {
    const auto& emails = customers_by_email.strings(customer::kEmail);
    const auto& consent = customers_by_email.ints(customer::kShareWithResearchAsOfDate);
    const std::vector<bool> first_of_equal = first_of_equal_rows(customers_by_email);
    StringKeyIndex email_ids(customers_by_email.num_rows());
    std::vector<std::int64_t> earliest_consent;
    for (std::size_t r = 0; r < customers_by_email.num_rows(); ++r) {
      if (!first_of_equal[r]) ++duplicate_rows;
      const auto [id, added] = email_ids.insert(emails[r]);
      if (added) earliest_consent.push_back(kNullInt64);
      if (consent[r] == kNullInt64) continue;
      customer_trusted.append_row(customers_by_email, r);
      trusted_first.push_back(first_of_equal[r]);  // equal rows are trusted alike
      auto& earliest = earliest_consent[static_cast<std::size_t>(id)];
      earliest = earliest == kNullInt64 ? consent[r] : std::min(earliest, consent[r]);
    }
    for (std::size_t id = 0; id < email_ids.size(); ++id) {
      my_emails.strings(0).push_back(email_ids.key(id));
      my_emails.ints(1).push_back(earliest_consent[id]);
      my_emails.commit_row();
    }
  });

  // 4. Every rank gets every customer email with its earliest consent date (NULL when it has no
  //    trusted row), so the accelerometer rows (the facts: large) are filtered where they were
  //    parsed. The latest kept reading of each email is then agreed with one MAX reduction.
  const Table email_table = time(kShuffle, [&] { return replicate_rows(comm_, my_emails); });
  my_emails = Table();
  IdRuns reading_email;  // email id of each accelerometer_trusted row
  std::vector<std::int64_t> latest_reading(email_table.num_rows(), kNullInt64);
  const auto& email_consent = email_table.ints(1);
  StringKeyIndex email_index(email_table.num_rows());
  std::vector<std::string_view> email_names;  // email id -> email
  time(kJoin, [&] {
    for (std::size_t id = 0; id < email_table.num_rows(); ++id) {
      email_index.insert(email_table.strings(0)[id]);
      email_names.push_back(email_table.strings(0)[id]);
    }
  });
  // accelerometer_trusted: filtered as it is parsed; its user column holds email ids (the parser
  // turns each email into its id).
  RecordParser accelerometer_parser = parser_with_key_ids(schemas[1], accelerometer::kUser, email_index);
  SpillableRows accelerometer_kept(accelerometer_parser.table_schema(), scratch, "accelerometer_trusted",
                                   budget_.block_rows);
  Table& accelerometer_trusted = accelerometer_kept.tail();  // in memory: every kept row
  // Budgeted: the longest email of a kept row (the width of the zone's user column), and no per-row
  // email runs (the spilled user column holds the ids).
  std::vector<std::size_t> email_length;
  std::size_t kept_email_width = 1;
  if (budget_.on)
    for (const auto name : email_names) email_length.push_back(name.size());
  parse_filtered(1, accelerometer_parser, accelerometer_kept, [&](const Table& rows, KeptRuns& kept) {
    const auto& timestamps = rows.ints(accelerometer::kTimestamp);
    const auto& email_ids = rows.ints(accelerometer::kUser);
    for (std::size_t r = 0; r < rows.num_rows(); ++r) {
      const std::int64_t id = email_ids[r];
      if (id == StringKeyIndex::kAbsent) {
        ++unknown_users;
        continue;
      }
      const std::int64_t consent = email_consent[static_cast<std::size_t>(id)];
      if (consent == kNullInt64) continue;
      if (privacy && timestamps[r] < consent) continue;
      kept.keep(r);
      if (budget_.on)
        kept_email_width = std::max(kept_email_width, email_length[static_cast<std::size_t>(id)]);
      else
        reading_email.push(id);
      auto& latest = latest_reading[static_cast<std::size_t>(id)];
      latest = std::max(latest, timestamps[r]);
    }
  });
  time(kShuffle, [&] { comm_.allreduce_max_in_place(latest_reading); });

  // customer_curated: on the email owners, DISTINCT trusted rows with a kept reading (under privacy,
  // one at or after the row's own consent date).
  Table customer_curated(customer_trusted.schema());
  time(kJoin, [&] {
    const auto& trusted_emails = customer_trusted.strings(customer::kEmail);
    const auto& trusted_consent = customer_trusted.ints(customer::kShareWithResearchAsOfDate);
    for (std::size_t r = 0; r < customer_trusted.num_rows(); ++r) {
      const std::int64_t latest = latest_reading[static_cast<std::size_t>(email_index.find(trusted_emails[r]))];
      if (latest == kNullInt64) continue;
      if (privacy && latest < trusted_consent[r]) continue;
      // Equal rows share the email and consent date, so they pass or fail alike: the first passes.
      if (trusted_first[r]) customer_curated.append_row(customer_trusted, r);
    }
  });
  // The customer rows sit on their email's owner rank, which depends on the rank count; both customer
  // zones are written sorted by email (ties broken by every column), so they are the same file at
  // every rank count and on any number of hosts.
  const std::vector<std::size_t> by_email = {customer::kEmail};
  const auto sorted_by_email = [&](const Table& rows) {
    return time(kSort,
                [&] { return sort_globally(comm_, rows, by_email, options_.job.exchange, &job_.exchange_stats()); });
  };
  write("customer_trusted", sorted_by_email(customer_trusted));
  // Budgeted, accelerometer_trusted is written from its spill file once the step-trainer rows are
  // spilled too (below).
  if (!budget_.on) write("accelerometer_trusted", accelerometer_trusted, {}, {{accelerometer::kUser, email_names}});
  write("customer_curated", sorted_by_email(customer_curated));
  customer_trusted = Table();

  // 5. Shared serial numbers (a data-quality report): every customer row's (serial, email) meets on
  //    hash(serialNumber); the dimension is small.
  Table serial_owners({{"serialNumber", ColumnType::String}, {"email", ColumnType::String}});
  for (std::size_t r = 0; r < customers_by_email.num_rows(); ++r) {
    serial_owners.strings(0).push_back(customers_by_email.strings(customer::kSerialNumber)[r]);
    serial_owners.strings(1).push_back(customers_by_email.strings(customer::kEmail)[r]);
    serial_owners.commit_row();
  }
  customers_by_email = Table();
  Table owners_by_serial =
      shuffle_by(serial_owners, [&](std::size_t r) { return hash_bytes(serial_owners.strings(0)[r]); });
  serial_owners = Table();
  std::vector<std::pair<std::string, std::int64_t>> shared_here;
  time(kJoin, [&] {
    StringMap<StringSet> owners;
    for (std::size_t r = 0; r < owners_by_serial.num_rows(); ++r)
      owners[owners_by_serial.strings(0)[r]].insert(owners_by_serial.strings(1)[r]);
    for (const auto& [serial, emails] : owners)
      if (emails.size() > 1) shared_here.emplace_back(std::string(serial), static_cast<std::int64_t>(emails.size()));
  });
  owners_by_serial = Table();

  // 6. Every rank gets the curated customers' (serial, email, consent): the curated serials, numbered
  //    in byte order, with their earliest curated consent date, and each email's curated serials.
  //    The step-trainer rows are then filtered where they were parsed.
  Table curated_keys(
      {{"serialNumber", ColumnType::String}, {"email", ColumnType::String}, {"consent", ColumnType::Int64}});
  for (std::size_t r = 0; r < customer_curated.num_rows(); ++r) {
    curated_keys.strings(0).push_back(customer_curated.strings(customer::kSerialNumber)[r]);
    curated_keys.strings(1).push_back(customer_curated.strings(customer::kEmail)[r]);
    curated_keys.ints(2).push_back(customer_curated.ints(customer::kShareWithResearchAsOfDate)[r]);
    curated_keys.commit_row();
  }
  customer_curated = Table();
  const Table curated = time(kShuffle, [&] { return replicate_rows(comm_, curated_keys); });
  curated_keys = Table();
  std::vector<std::string_view> serial_names;         // curated serials in byte order (serial id -> name)
  std::vector<std::int64_t> serial_consent;           // serial id -> earliest curated consent
  std::vector<std::vector<std::int64_t>> serials_of;  // email id -> its distinct curated serial ids
  StringKeyIndex serial_index;
  time(kJoin, [&] {
    for (std::size_t r = 0; r < curated.num_rows(); ++r) serial_names.push_back(curated.strings(0)[r]);
    std::sort(serial_names.begin(), serial_names.end());
    serial_names.erase(std::unique(serial_names.begin(), serial_names.end()), serial_names.end());
    for (const auto name : serial_names) serial_index.insert(name);
    serial_consent.assign(serial_names.size(), std::numeric_limits<std::int64_t>::max());
    serials_of.resize(email_table.num_rows());
    for (std::size_t r = 0; r < curated.num_rows(); ++r) {
      const auto serial = static_cast<std::size_t>(serial_index.find(curated.strings(0)[r]));
      serial_consent[serial] = std::min(serial_consent[serial], curated.ints(2)[r]);
      auto& list = serials_of[static_cast<std::size_t>(email_index.find(curated.strings(1)[r]))];
      if (std::find(list.begin(), list.end(), serial) == list.end()) list.push_back(static_cast<std::int64_t>(serial));
    }
  });
  // step_trainer_trusted: filtered as it is parsed; its serialNumber column holds serial ids.
  RecordParser step_parser = parser_with_key_ids(schemas[2], step_trainer::kSerialNumber, serial_index);
  SpillableRows step_kept(step_parser.table_schema(), scratch, "step_trainer_trusted", budget_.block_rows);
  Table& step_trainer_trusted = step_kept.tail();  // in memory: every kept row
  std::size_t kept_serial_width = 1;               // budgeted: the longest serial of a kept row
  parse_filtered(2, step_parser, step_kept, [&](const Table& rows, KeptRuns& kept) {
    const auto& times = rows.ints(step_trainer::kSensorReadingTime);
    const auto& serial_ids = rows.ints(step_trainer::kSerialNumber);
    for (std::size_t r = 0; r < rows.num_rows(); ++r) {
      const std::int64_t id = serial_ids[r];
      if (id == StringKeyIndex::kAbsent) continue;
      if (privacy && times[r] < serial_consent[static_cast<std::size_t>(id)]) continue;
      kept.keep(r);
      if (budget_.on)
        kept_serial_width = std::max(kept_serial_width, serial_names[static_cast<std::size_t>(id)].size());
    }
  });
  for (std::size_t s = 0; s < kSources.size(); ++s)
    summary_.sources.emplace_back(kSources[s], source_stats[s].summed(comm_));
  job_.progress().line("parsed " + std::to_string(summary_.sources[0].second.accepted) + " customers, " +
                       std::to_string(summary_.sources[1].second.accepted) + " accelerometer and " +
                       std::to_string(summary_.sources[2].second.accepted) + " step-trainer rows");
  if (budget_.on) {
    fault_point("spilled", comm_);
    job_.progress().line("spilled " + format_bytes(comm_.allreduce_sum(scratch_->bytes_spilled())) +
                         " of kept accelerometer and step-trainer rows");
    job_.write_collected("accelerometer_trusted", accelerometer_kept,
                         {{accelerometer_kept.tail().schema()[accelerometer::kUser].name, widest(kept_email_width)}},
                         rules_attribute(options_.rules), kWrite, {{accelerometer::kUser, email_names}});
    job_.write_collected("step_trainer_trusted", step_kept,
                         {{step_kept.tail().schema()[step_trainer::kSerialNumber].name, widest(kept_serial_width)}},
                         rules_attribute(options_.rules), kWrite, {{step_trainer::kSerialNumber, serial_names}});
  } else {
    write("step_trainer_trusted", step_trainer_trusted, {}, {{step_trainer::kSerialNumber, serial_names}});
  }

  // 7. Machine-learning join, on ids rather than strings (serial and email ids are numbered in byte
  //    order, so sorting ids sorts the strings). privacy/serial: an accelerometer row takes the serial
  //    numbers of the curated customers with its email; key (serialNumber, timestamp). rubric: key
  //    timestamp alone.
  std::vector<std::int64_t> email_rank(email_table.num_rows());  // email id -> position in byte order
  std::vector<std::size_t> email_by_rank(email_table.num_rows());
  time(kJoin, [&] {
    std::iota(email_by_rank.begin(), email_by_rank.end(), 0);
    std::sort(email_by_rank.begin(), email_by_rank.end(),
              [&](std::size_t a, std::size_t b) { return email_table.strings(0)[a] < email_table.strings(0)[b]; });
    for (std::size_t i = 0; i < email_by_rank.size(); ++i) email_rank[email_by_rank[i]] = static_cast<std::int64_t>(i);
  });
  std::vector<std::string_view> emails_by_rank;  // the emails in byte order
  for (const std::size_t id : email_by_rank) emails_by_rank.push_back(email_table.strings(0)[id]);
  if (budget_.on) {
    join_in_passes(accelerometer_kept, step_kept, serials_of, email_rank, serial_names, emails_by_rank);
  } else {
    const bool by_serial = options_.rules != Rules::Rubric;
    Table readings(ml_readings_schema());
    Table step_keys(ml_step_keys_schema());
    time(kJoin, [&] {
      const std::size_t accelerometer_rows = accelerometer_trusted.num_rows();
      std::size_t reading_rows = accelerometer_rows;
      bool one_serial_each = true;  // every reading takes exactly one serial (always under rubric)
      if (by_serial) {
        reading_rows = 0;
        for (const auto& [email, rows] : reading_email.runs()) {
          const std::size_t serials = serials_of[static_cast<std::size_t>(email)].size();
          reading_rows += serials * rows;
          one_serial_each = one_serial_each && serials == 1;
        }
      }
      auto& out_serial = readings.ints(0);
      auto& out_user = readings.ints(1);
      out_serial.resize(reading_rows);
      out_user.resize(reading_rows);
      auto& in_time = accelerometer_trusted.ints(accelerometer::kTimestamp);
      auto& in_x = accelerometer_trusted.floats(accelerometer::kX);
      auto& in_y = accelerometer_trusted.floats(accelerometer::kY);
      auto& in_z = accelerometer_trusted.floats(accelerometer::kZ);
      if (one_serial_each) {
        // The accelerometer zone is written: its columns move into the join's input unchanged.
        std::size_t r = 0;
        for (const auto& [id, rows] : reading_email.runs()) {
          const auto email = static_cast<std::size_t>(id);
          const std::int64_t serial = by_serial ? serials_of[email][0] : -1;  // rubric: the key has no serial
          std::fill_n(out_serial.begin() + static_cast<std::ptrdiff_t>(r), rows, serial);
          std::fill_n(out_user.begin() + static_cast<std::ptrdiff_t>(r), rows, email_rank[email]);
          r += rows;
        }
        if (r != accelerometer_rows) throw std::logic_error("reading email ids out of step");
        readings.ints(2) = std::move(in_time);
        readings.floats(3) = std::move(in_x);
        readings.floats(4) = std::move(in_y);
        readings.floats(5) = std::move(in_z);
      } else {
        // A reading repeats once per serial of its customer.
        auto& out_time = readings.ints(2);
        auto& out_x = readings.floats(3);
        auto& out_y = readings.floats(4);
        auto& out_z = readings.floats(5);
        out_time.resize(reading_rows);
        out_x.resize(reading_rows);
        out_y.resize(reading_rows);
        out_z.resize(reading_rows);
        std::size_t at = 0, r = 0;
        for (const auto& [id, rows] : reading_email.runs())
          for (const std::size_t run_end = r + rows; r < run_end; ++r) {
            const auto email = static_cast<std::size_t>(id);
            for (const std::int64_t serial : serials_of[email]) {
              out_serial[at] = serial;
              out_user[at] = email_rank[email];
              out_time[at] = in_time[r];
              out_x[at] = in_x[r];
              out_y[at] = in_y[r];
              out_z[at] = in_z[r];
              ++at;
            }
          }
      }
      readings.set_rows_from_columns();
      // The step-trainer zone is written: its key columns move into the join's input.
      step_keys.ints(0) = std::move(step_trainer_trusted.ints(step_trainer::kSerialNumber));
      step_keys.ints(1) = std::move(step_trainer_trusted.ints(step_trainer::kSensorReadingTime));
      step_keys.ints(2) = std::move(step_trainer_trusted.ints(step_trainer::kDistanceFromObject));
      step_keys.set_rows_from_columns();
    });
    accelerometer_trusted = Table();
    step_trainer_trusted = Table();
    reading_email = {};
    // privacy/serial: each rank takes a contiguous range of serial ids holding about 1/ranks of the
    // rows, so the locally sorted join result is already in the zone's global order (one device's
    // series on one rank). rubric: rows meet on hash(timestamp) and are sorted afterwards.
    std::vector<int> serial_owner;
    if (by_serial) {
      time(kShuffle, [&] {
        std::vector<std::int64_t> rows_of(serial_names.size(), 0);
        for (const std::int64_t serial : readings.ints(0)) ++rows_of[static_cast<std::size_t>(serial)];
        for (const std::int64_t serial : step_keys.ints(0)) ++rows_of[static_cast<std::size_t>(serial)];
        serial_owner = contiguous_owners(comm_.allreduce_sum(rows_of), comm_.size());
      });
    }
    const auto rank_for = [&](std::int64_t serial, std::int64_t time) {
      return by_serial ? serial_owner[static_cast<std::size_t>(serial)] : partition_for(hash_int64(time), comm_.size());
    };
    const auto destinations = [&](const Table& rows, std::size_t time_column) {
      std::vector<int> destination(rows.num_rows());
      for (std::size_t r = 0; r < rows.num_rows(); ++r)
        destination[r] = rank_for(rows.ints(0)[r], rows.ints(time_column)[r]);
      return destination;
    };
    Table readings_by_key = shuffle(readings, destinations(readings, 2));
    readings = Table();
    Table steps_by_key = shuffle(step_keys, destinations(step_keys, 1));
    step_keys = Table();
    Table ml_ids = time(kJoin, [&] {
      return join_readings_with_steps(std::move(readings_by_key), std::move(steps_by_key), by_serial);
    });
    readings_by_key = Table();
    steps_by_key = Table();

    // 8. ML-ready layout: sorted by (serialNumber, timestamp) across the whole file (ties broken by
    //    every column; rubric needs a distributed sample sort for it), with a device index:
    //    device_serial[i] owns rows device_offset[i] .. device_offset[i+1] (the last offset is the row
    //    count). The ids become strings again only here.
    if (!by_serial) {
      const std::vector<std::size_t> ml_key = {1, 4};  // serialNumber, timestamp
      ml_ids = time(
          kSort, [&] { return sort_globally(comm_, ml_ids, ml_key, options_.job.exchange, &job_.exchange_stats()); });
    }
    MlZoneRows zone;
    time(kSort, [&] {
      const auto local_rows = static_cast<std::int64_t>(ml_ids.num_rows());
      const std::int64_t first_row = comm_.exscan_sum(local_rows);
      const std::int64_t total_rows = comm_.allreduce_sum(local_rows);
      zone = ml_zone_rows(std::move(ml_ids), first_row, comm_.rank() == comm_.size() - 1 ? total_rows : -1,
                          serial_names, emails_by_rank);
    });
    ml_ids = Table();
    write("machine_learning_curated", zone.rows, {&zone.device_serial, &zone.device_offset});
    zone = {};
  }

  // 9. Quarantine and the data-quality report.
  summary_.quarantined = job_.write_quarantine(quarantine, rules_attribute(options_.rules), kWrite);
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

  if (scratch_) job_.stats().memory.bytes_spilled_here = scratch_->bytes_spilled();
  job_.finish([&] {
    summary_.run = job_.stats();
    return summary_json(summary_);
  });
  summary_.run = job_.stats();
  return summary_;
}

}  // namespace

RunSummary run_stedi(const Comm& comm, const RunOptions& options) {
  return StediJob(comm, options).run();
}

}  // namespace mpilake::stedi
