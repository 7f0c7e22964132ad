#pragma once
// The explicit context of one pipeline run, and everything a pipeline's run has in common with any
// other: the options every `run` takes, the stage clock, progress on rank 0, landing discovery and
// the memory check, the output folder, parsing every source with one collective error step,
// timed exchanges, zone writing with the common root attributes, the quarantine files, and the
// run figures that end in summary.json. A pipeline adds its sources, rules and zones (see
// docs/pipelines.md).
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "mpilake/h5/zone_appender.hpp"
#include "mpilake/h5/zone_writer.hpp"
#include "mpilake/io/landing.hpp"
#include "mpilake/io/output_lock.hpp"
#include "mpilake/io/spillable_rows.hpp"
#include "mpilake/job/progress.hpp"
#include "mpilake/job/run_stats.hpp"
#include "mpilake/job/stage_clock.hpp"
#include "mpilake/json/source_parser.hpp"
#include "mpilake/mpi/comm.hpp"
#include "mpilake/mpi/memory_guard.hpp"
#include "mpilake/quarantine/quarantine.hpp"
#include "mpilake/shuffle/exchange.hpp"

namespace mpilake::job {

// What every pipeline's `run` takes (the CLI's generic flags).
struct JobOptions {
  std::filesystem::path landing;
  std::filesystem::path out;
  bool overwrite = false;
  bool progress = true;                  // rank 0 reports stages and progress on stderr
  double progress_interval_seconds = 5;  // how often a log (not a terminal) gets a progress line
  ExchangeOptions exchange;
  ParseOptions parse;
  ZoneLayout layout;
  // Memory the ranks of one node may use together: -1 detects what the node has available, 0 skips
  // the check.
  std::int64_t memory_limit = -1;
  // Where a budgeted run spills (its rank folders go under <scratch>/.mpilake.scratch): empty is `out`.
  std::filesystem::path scratch;
};

class Job {
 public:
  // `stages`: the pipeline's stage names, in report order; indices into it name a stage below.
  Job(const Comm& comm, const JobOptions& options, std::string pipeline, std::vector<std::string> stages);

  const Comm& comm() const { return comm_; }
  const JobOptions& options() const { return options_; }
  Progress& progress() { return progress_; }
  RunStats& stats() { return stats_; }
  // Bytes and rounds of this rank's exchanges, for engine operations that exchange by themselves.
  ExchangeStats& exchange_stats() { return exchange_; }
  const std::vector<SourceFiles>& landing() const { return landing_; }

  // Runs `work` timed as `stage`; the exchanges it makes are recorded under the stage's name.
  template <class Work>
  decltype(auto) time(std::size_t stage, Work&& work) {
    struct NameExchanges {
      std::vector<ExchangeCall>& calls;
      const std::string& stage;
      ~NameExchanges() {
        for (auto& call : calls)
          if (call.stage.empty()) call.stage = stage;
      }
    } name{exchange_.calls, clock_.name(stage)};
    return clock_.time(stage, std::forward<Work>(work));
  }

  // Collective: lists `landing/<source>/` for each source (timed as `stage`) and adds up the bytes.
  const std::vector<SourceFiles>& discover(const std::vector<std::string>& sources, std::size_t stage);
  // Collective: the streams of `landing/<topic>/` as sources (see discover_streams), timed as `stage`.
  const std::vector<SourceFiles>& discover_streams(const std::string& topic, std::size_t stage);
  // Collective: this rank's share of its node's memory and whether the in-memory path fits every
  // node; a rank's in-memory peak is taken as `peak_per_landing_byte` x its landing bytes +
  // `extra_bytes` + a base. Records the limit and the share in the run figures.
  MemoryShare share_memory(double peak_per_landing_byte, std::int64_t extra_bytes);
  // "62.5 MB per rank (125 MB for 2 ranks of --memory-limit)", or "no limit": for progress and errors.
  std::string describe_share(const MemoryShare& share) const;
  // The folder under which a budgeted run spills (--scratch, or the output folder).
  std::filesystem::path scratch_root() const;
  // This rank's spill folder: <scratch_root>/.mpilake.scratch/<output folder's name>-<tag>/rank-N.
  std::filesystem::path scratch_folder() const;
  // Budgeted runs: `quarantine` keeps Quarantine::kSpillMemoryBytes of records in memory and spills
  // the rest into `folder` (the test knob MPILAKE_QUARANTINE_MEMORY_BYTES sets another size).
  static void spill_quarantine(Quarantine& quarantine, ScratchFolder& folder);
  // Collective: see job/output_folder.hpp.
  OutputLock prepare_output(const std::vector<std::string>& zones) const;

  // Collective: calls parse(s, options) for each discovered source s, with parse options whose
  // progress callback reports into one "parse" progress stage, timed as `stage`. A source that
  // cannot be read stops the job only after every rank has parsed, with one error line
  // (ConsistentError on every rank).
  void parse_sources(std::size_t stage, const std::function<void(std::size_t, const ParseOptions&)>& parse);
  // Collective: the same for discovered source `s` alone, its progress part of the one "parse"
  // stage over all sources. For a pipeline that parses a source between other work, e.g. a
  // dimension parsed and replicated first, then the facts filtered against it as they are parsed.
  void parse_source(std::size_t stage, std::size_t s, const std::function<void(const ParseOptions&)>& parse);

  // Collective: exchange_rows, timed as `stage`, its bytes and rounds counted.
  Table exchange(const Table& rows, std::span<const int> destination, std::size_t stage);

  // Root attributes of a zone: `zone`, then `pipeline_attributes`, then schema_version,
  // created_utc, mpilake_version and the landing files with their sizes.
  std::vector<Attribute> zone_attributes(const std::string& zone,
                                         const std::vector<Attribute>& pipeline_attributes) const;
  // Collective: writes OUT/<zone>.h5 (timed as `stage`), records its rows and reports it.
  void write(const std::string& zone, const Table& rows, const std::vector<Attribute>& pipeline_attributes,
             std::size_t stage, const std::vector<const Table*>& extra = {},
             const std::vector<DictionaryColumn>& dictionaries = {});
  // Collective: OUT/<zone>.h5 written in appends (a run larger than memory), with the job's layout.
  std::unique_ptr<ZoneAppender> open_zone(const std::string& zone, Schema schema, ZoneAppendPlan plan,
                                          std::vector<Schema> extra = {},
                                          std::vector<DictionaryColumn> dictionaries = {}) const;
  // Collective: finishes `appender` with the zone's root attributes (timed as `stage`), records its
  // rows and reports it, as write() does.
  void finish_zone(const std::string& zone, ZoneAppender& appender, const std::vector<Attribute>& pipeline_attributes,
                   std::size_t stage);
  // Collective: OUT/<zone>.h5 from the rows each rank collected (spilled or in memory): rank 0's rows,
  // then rank 1's ..., the file write() gives for the same rows. Rank by rank, block by block, so a
  // rank holds one block at a time. `string_widths` are the plan's widths of the String and dictionary
  // columns (the longest value in the zone, at least 1; the same on every rank). A block that cannot be
  // read stops every rank with its line, before the zone is in place.
  void write_collected(const std::string& zone, const SpillableRows& rows,
                       std::map<std::string, std::size_t> string_widths,
                       const std::vector<Attribute>& pipeline_attributes, std::size_t stage,
                       const std::vector<DictionaryColumn>& dictionaries = {});
  // From now on, each rank sends at most `bytes` per exchange round (a budgeted run's share).
  void cap_exchange_round(std::int64_t bytes);
  // Collective: quarantine.jsonl and quarantine.h5 (timed as `stage`); returns the number of
  // quarantined records (all ranks).
  std::int64_t write_quarantine(Quarantine& quarantine, const std::vector<Attribute>& pipeline_attributes,
                                std::size_t stage);

  // Collective: completes the run figures (stage times, exchange, peak memory, total time) and
  // writes OUT/summary.json from `summary_json()` (called on rank 0 after the figures are complete).
  void finish(const std::function<std::string()>& summary_json);

 private:
  // This rank's range bytes of the sources before source `s` (where its parse progress starts).
  std::int64_t bytes_before_source(std::size_t s) const;
  // Parses source `s` (timed as `stage`); an InputError goes into `error` (the first one kept).
  void parse_one(std::size_t stage, std::size_t s, const std::function<void(std::size_t, const ParseOptions&)>& parse,
                 std::string& error);

  const Comm& comm_;
  const JobOptions& options_;
  StageClock clock_;
  Progress progress_;
  RunStats stats_;
  ExchangeStats exchange_;
  std::int64_t round_cap_bytes_ = -1;  // cap_exchange_round (-1: the options' rounds)
  std::vector<SourceFiles> landing_;
  double started_ = 0;
};

// "2026-12-01T09:30:00Z".
std::string utc_now();
// This process's peak resident set.
std::int64_t peak_rss_bytes();

}  // namespace mpilake::job
