#pragma once
// The figures every pipeline's run reports (ranks, time per stage, landing bytes, bytes exchanged,
// rows per zone, peak memory), with the text and JSON renderings that all summaries share. A
// pipeline's summary holds a RunStats and adds its own sources and data-quality figures.
#include <cstdint>
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

#include "mpilake/job/stage_clock.hpp"
#include "mpilake/shuffle/exchange.hpp"
#include "mpilake/util/json_writer.hpp"

namespace mpilake::job {

// One exchange of the run as every rank saw it.
struct ExchangeFigures {
  std::string stage;
  std::int64_t rounds = 0;
  std::vector<std::int64_t> bytes_sent;      // per rank, in rank order
  std::vector<std::int64_t> bytes_received;  // per rank
};

// How the run kept to its memory budget (--memory-limit, issue 20).
struct MemoryFigures {
  std::int64_t limit_bytes_per_node = -1;            // the node's budget (-1: none)
  std::int64_t budget_bytes_per_rank = -1;           // each rank's share of it (-1: none)
  bool budgeted = false;                             // the run spilled and took its zones in passes
  std::int64_t passes = 0;                           // passes of the budgeted path's largest zone
  std::int64_t bytes_spilled_here = 0;               // this rank (set by the pipeline before Job::finish)
  std::int64_t bytes_spilled = 0;                    // all ranks (Job::finish)
  std::vector<std::int64_t> bytes_spilled_per_rank;  // in rank order (Job::finish)
};

struct RunStats {
  std::string pipeline;
  int ranks = 1;
  std::string created_utc;
  double total_seconds = 0;
  std::int64_t landing_bytes = 0;
  std::vector<std::pair<std::string, std::int64_t>> zones;  // zone -> rows, in writing order
  std::vector<StageTime> stages;
  ExchangeStats exchange;               // summed over ranks (rounds: the most any exchange took, added up)
  std::int64_t peak_rss_bytes_max = 0;  // largest peak resident set of any rank
  std::vector<std::int64_t> peak_rss_bytes_per_rank;  // in rank order
  std::vector<std::string> rank_hosts;                // each rank's hostname, in rank order
  std::vector<ExchangeFigures> exchanges;             // each exchange_rows call, in call order
  MemoryFigures memory;
};

// Collective: every rank's `calls` (the same exchanges in the same order on each rank) as figures
// per rank; complete on every rank. Throws ConsistentError if the ranks made different numbers of
// exchanges.
std::vector<ExchangeFigures> per_rank_exchanges(const Comm& comm, const std::vector<ExchangeCall>& calls);

// 12345678 -> "12,345,678".
std::string with_commas(std::int64_t value);
double megabytes(std::int64_t bytes);
// MB/s of `bytes` over `seconds` (0 when no time passed).
double megabytes_per_second(std::int64_t bytes, double seconds);

template <class... Args>
std::string printf_string(const char* format, Args... args) {
  char line[512];
  std::snprintf(line, sizeof line, format, args...);
  return line;
}

// Text blocks for the end-of-run report: rows per zone; seconds and MB/s per stage with the total,
// then bytes exchanged and peak memory.
std::string format_zone_table(const RunStats& stats);
std::string format_stage_table(const RunStats& stats);

// summary.json parts: "ranks", "created_utc", "total_seconds", "landing_bytes" ...
void write_run_header_json(JsonWriter& json, const RunStats& stats);
// ... and "zones", "stages", "exchange", "peak_rss_bytes_max", "peak_rss_bytes_per_rank", "rank_hosts".
void write_run_results_json(JsonWriter& json, const RunStats& stats);
// `RESULT key=value` lines for benchmark scripts: ranks, landing bytes, time per stage, exchange,
// peak memory (zone rows come from result_zone_lines).
std::string result_run_lines(const RunStats& stats);
std::string result_zone_lines(const RunStats& stats);
std::string result_line(const std::string& key, const std::string& value);

}  // namespace mpilake::job
