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
      .value("rounds", s.exchange.rounds)
      .end_object();
  json.value("peak_rss_bytes_max", s.peak_rss_bytes_max);
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
  out += result_line("exchange_rounds", std::to_string(s.exchange.rounds));
  out += result_line("peak_rss_bytes_max", std::to_string(s.peak_rss_bytes_max));
  return out;
}

std::string result_zone_lines(const RunStats& s) {
  std::string out;
  for (const auto& [zone, rows] : s.zones) out += result_line("zone_" + zone + "_rows", std::to_string(rows));
  return out;
}

}  // namespace mpilake::job
