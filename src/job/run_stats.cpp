#include "mpilake/job/run_stats.hpp"

namespace mpilake::job {

std::string with_commas(std::int64_t value) {
  const std::string digits = std::to_string(value < 0 ? -value : value);
  std::string text = value < 0 ? "-" : "";
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) text += ',';
    text += digits[i];
  }
  return text;
}

double megabytes(std::int64_t bytes) {
  return static_cast<double>(bytes) / 1e6;
}

double megabytes_per_second(std::int64_t bytes, double seconds) {
  return seconds > 0 ? megabytes(bytes) / seconds : 0.0;
}

std::vector<ExchangeFigures> per_rank_exchanges(const Comm& comm, const std::vector<ExchangeCall>& calls) {
  const auto count = static_cast<std::int64_t>(calls.size());
  if (comm.allreduce_max(count) != -comm.allreduce_max(-count))
    throw ConsistentError("the ranks made different numbers of exchanges");
  const auto ranks = static_cast<std::size_t>(comm.size());
  const auto rank = static_cast<std::size_t>(comm.rank());
  // Each rank fills its own slots, the sum fills them all: [call][sent, received][rank].
  std::vector<std::int64_t> slots(calls.size() * 2 * ranks, 0);
  for (std::size_t i = 0; i < calls.size(); ++i) {
    slots[(i * 2) * ranks + rank] = calls[i].bytes_sent;
    slots[(i * 2 + 1) * ranks + rank] = calls[i].bytes_received;
  }
  slots = comm.allreduce_sum(slots);
  std::vector<ExchangeFigures> figures;
  for (std::size_t i = 0; i < calls.size(); ++i) {
    const auto sent = slots.begin() + static_cast<std::ptrdiff_t>(i * 2 * ranks);
    const auto received = sent + static_cast<std::ptrdiff_t>(ranks);
    figures.push_back({calls[i].stage, calls[i].rounds, std::vector<std::int64_t>(sent, received),
                       std::vector<std::int64_t>(received, received + static_cast<std::ptrdiff_t>(ranks))});
  }
  return figures;
}

std::string format_zone_table(const RunStats& s) {
  std::string out = printf_string("%-28s %12s\n", "zone", "rows");
  for (const auto& [zone, rows] : s.zones)
    out += printf_string("%-28s %12s\n", zone.c_str(), with_commas(rows).c_str());
  return out;
}

std::string format_stage_table(const RunStats& s) {
  std::string out = printf_string("%-10s %10s %12s\n", "stage", "seconds", "MB/s");
  for (const auto& stage : s.stages)
    out += printf_string("%-10s %10.3f %12.1f\n", stage.stage.c_str(), stage.seconds,
                         megabytes_per_second(s.landing_bytes, stage.seconds));
  out += printf_string("%-10s %10.3f %12.1f\n", "total", s.total_seconds,
                       megabytes_per_second(s.landing_bytes, s.total_seconds));
  out += printf_string("exchanged %.1f MB between ranks in %lld rounds; peak memory %.1f MB (largest rank)\n",
                       megabytes(s.exchange.bytes_sent), static_cast<long long>(s.exchange.rounds),
                       megabytes(s.peak_rss_bytes_max));
  if (s.memory.budgeted)
    out += printf_string("memory budget %.1f MB per rank (%.1f MB per node): %lld passes, %.1f MB spilled\n",
                         megabytes(s.memory.budget_bytes_per_rank), megabytes(s.memory.limit_bytes_per_node),
                         static_cast<long long>(s.memory.passes), megabytes(s.memory.bytes_spilled));
  return out;
}

void write_run_header_json(JsonWriter& json, const RunStats& s) {
  json.value("ranks", static_cast<std::int64_t>(s.ranks))
      .value("created_utc", s.created_utc)
      .value("total_seconds", s.total_seconds)
      .value("landing_bytes", s.landing_bytes);
}

void write_run_results_json(JsonWriter& json, const RunStats& s) {
  json.begin_object("zones");
  for (const auto& [zone, rows] : s.zones) json.begin_object(zone).value("rows", rows).end_object();
  json.end_object();
  json.begin_object("stages");
  for (const auto& stage : s.stages) {
    json.begin_object(stage.stage)
        .value("seconds", stage.seconds)
        .value("mb_per_s", megabytes_per_second(s.landing_bytes, stage.seconds))
        .end_object();
  }
  json.end_object();
  json.begin_object("exchange")
      .value("bytes_sent", s.exchange.bytes_sent)
      .value("bytes_received", s.exchange.bytes_received)
      .value("rounds", s.exchange.rounds);
  json.begin_array("per_exchange");
  for (const auto& exchange : s.exchanges) {
    json.begin_object().value("stage", exchange.stage).value("rounds", exchange.rounds);
    json.begin_array("bytes_sent_per_rank");
    for (const auto bytes : exchange.bytes_sent) json.value(std::string_view{}, bytes);
    json.end_array().begin_array("bytes_received_per_rank");
    for (const auto bytes : exchange.bytes_received) json.value(std::string_view{}, bytes);
    json.end_array().end_object();
  }
  json.end_array().end_object();
  json.value("peak_rss_bytes_max", s.peak_rss_bytes_max);
  json.begin_array("peak_rss_bytes_per_rank");
  for (const auto bytes : s.peak_rss_bytes_per_rank) json.value(std::string_view{}, bytes);
  json.end_array().begin_array("rank_hosts");
  for (const auto& host : s.rank_hosts) json.value(std::string_view{}, host);
  json.end_array();
  json.begin_object("memory");
  const auto bytes_or_null = [&](const char* key, std::int64_t bytes) {
    if (bytes < 0)
      json.null(key);
    else
      json.value(key, bytes);
  };
  bytes_or_null("limit_bytes_per_node", s.memory.limit_bytes_per_node);
  bytes_or_null("budget_bytes_per_rank", s.memory.budget_bytes_per_rank);
  json.value("budgeted", s.memory.budgeted)
      .value("passes", s.memory.passes)
      .value("bytes_spilled", s.memory.bytes_spilled)
      .begin_array("bytes_spilled_per_rank");
  for (const auto bytes : s.memory.bytes_spilled_per_rank) json.value(std::string_view{}, bytes);
  json.end_array().end_object();
}

std::string result_line(const std::string& key, const std::string& value) {
  return "RESULT " + key + "=" + value + "\n";
}

std::string result_run_lines(const RunStats& s) {
  std::string out;
  const auto number = [](double value) { return printf_string("%.6f", value); };
  out += result_line("pipeline", s.pipeline);
  out += result_line("ranks", std::to_string(s.ranks));
  out += result_line("landing_bytes", std::to_string(s.landing_bytes));
  out += result_line("total_seconds", number(s.total_seconds));
  out += result_line("total_mb_per_s", number(megabytes_per_second(s.landing_bytes, s.total_seconds)));
  for (const auto& stage : s.stages) {
    out += result_line("stage_" + stage.stage + "_seconds", number(stage.seconds));
    out +=
        result_line("stage_" + stage.stage + "_mb_per_s", number(megabytes_per_second(s.landing_bytes, stage.seconds)));
  }
  out += result_line("exchange_bytes_sent", std::to_string(s.exchange.bytes_sent));
  out += result_line("exchange_bytes_received", std::to_string(s.exchange.bytes_received));
  out += result_line("exchange_rounds", std::to_string(s.exchange.rounds));
  const auto joined = [](const std::vector<std::int64_t>& values) {
    std::string text;
    for (const auto value : values) text += (text.empty() ? "" : ",") + std::to_string(value);
    return text;
  };
  // exchange_<i>_... for the i-th exchange (from 1): its stage, rounds and bytes per rank.
  for (std::size_t i = 0; i < s.exchanges.size(); ++i) {
    const std::string key = "exchange_" + std::to_string(i + 1) + "_";
    out += result_line(key + "stage", s.exchanges[i].stage);
    out += result_line(key + "rounds", std::to_string(s.exchanges[i].rounds));
    out += result_line(key + "bytes_sent_per_rank", joined(s.exchanges[i].bytes_sent));
    out += result_line(key + "bytes_received_per_rank", joined(s.exchanges[i].bytes_received));
  }
  out += result_line("peak_rss_bytes_max", std::to_string(s.peak_rss_bytes_max));
  out += result_line("peak_rss_bytes_per_rank", joined(s.peak_rss_bytes_per_rank));
  out += result_line("memory_budgeted", s.memory.budgeted ? "1" : "0");
  out += result_line("memory_passes", std::to_string(s.memory.passes));
  out += result_line("bytes_spilled", std::to_string(s.memory.bytes_spilled));
  std::string hosts;
  for (const auto& host : s.rank_hosts) hosts += (hosts.empty() ? "" : ",") + host;
  out += result_line("rank_hosts", hosts);
  return out;
}

std::string result_zone_lines(const RunStats& s) {
  std::string out;
  for (const auto& [zone, rows] : s.zones) out += result_line("zone_" + zone + "_rows", std::to_string(rows));
  return out;
}

}  // namespace mpilake::job
