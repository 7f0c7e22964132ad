// The end-of-run report: a table for people (printed by rank 0) and summary.json for tools.
#include <cstdio>
#include <string>

#include "mpilake/stedi/pipeline.hpp"
#include "mpilake/util/json_writer.hpp"

namespace mpilake::stedi {

namespace {

std::string with_commas(std::int64_t value) {
  const std::string digits = std::to_string(value < 0 ? -value : value);
  std::string text = value < 0 ? "-" : "";
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) text += ',';
    text += digits[i];
  }
  return text;
}

std::string printf_string(const char* format, auto... args) {
  char line[256];
  std::snprintf(line, sizeof line, format, args...);
  return line;
}

double megabytes(std::int64_t bytes) {
  return static_cast<double>(bytes) / 1e6;
}

}  // namespace

std::string format_summary(const RunSummary& s) {
  std::string out;
  out += printf_string("mpilake run: rules=%s, %d rank%s, %.3f s, %.1f MB landing (%.1f MB/s)\n", s.rules.c_str(),
                       s.ranks, s.ranks == 1 ? "" : "s", s.total_seconds, megabytes(s.landing_bytes),
                       s.total_seconds > 0 ? megabytes(s.landing_bytes) / s.total_seconds : 0.0);
  out += "\n";
  out += printf_string("%-16s %6s %14s %12s %12s %12s %8s\n", "source", "files", "bytes", "lines", "accepted",
                       "quarantined", "blank");
  for (const auto& [name, st] : s.sources)
    out += printf_string("%-16s %6lld %14s %12s %12s %12s %8s\n", name.c_str(), static_cast<long long>(st.files),
                         with_commas(st.bytes).c_str(), with_commas(st.lines).c_str(), with_commas(st.accepted).c_str(),
                         with_commas(st.quarantined).c_str(), with_commas(st.blank_lines).c_str());
  out += "\n";
  out += printf_string("%-28s %12s\n", "zone", "rows");
  for (const auto& [zone, rows] : s.zones)
    out += printf_string("%-28s %12s\n", zone.c_str(), with_commas(rows).c_str());
  out += "\n";
  out += printf_string("%-10s %10s %12s\n", "stage", "seconds", "MB/s");
  for (const auto& stage : s.stages)
    out += printf_string("%-10s %10.3f %12.1f\n", stage.stage.c_str(), stage.seconds,
                         stage.seconds > 0 ? megabytes(s.landing_bytes) / stage.seconds : 0.0);
  out += printf_string("%-10s %10.3f %12.1f\n", "total", s.total_seconds,
                       s.total_seconds > 0 ? megabytes(s.landing_bytes) / s.total_seconds : 0.0);
  out += printf_string("exchanged %.1f MB between ranks in %lld rounds; peak memory %.1f MB (largest rank)\n",
                       megabytes(s.exchange.bytes_sent), static_cast<long long>(s.exchange.rounds),
                       megabytes(s.peak_rss_bytes_max));
  out += "\ndata quality:\n";
  out += "  serial numbers shared by several customers: " + with_commas(s.shared_serials);
  for (std::size_t i = 0; i < s.shared_serial_examples.size(); ++i)
    out += (i == 0 ? " (e.g. " : ", ") + s.shared_serial_examples[i].first + " x" +
           std::to_string(s.shared_serial_examples[i].second) + (i + 1 == s.shared_serial_examples.size() ? ")" : "");
  out += "\n";
  out += "  exact duplicate customer rows: " + with_commas(s.duplicate_customer_rows) + "\n";
  out += "  accelerometer rows of unknown users: " + with_commas(s.unknown_user_readings) + "\n";
  out += "  quarantined lines: " + with_commas(s.quarantined) + (s.quarantined > 0 ? " (see quarantine.jsonl)" : "") +
         "\n";
  return out;
}

std::string summary_json(const RunSummary& s) {
  JsonWriter json;
  json.begin_object()
      .value("rules", s.rules)
      .value("ranks", static_cast<std::int64_t>(s.ranks))
      .value("created_utc", s.created_utc)
      .value("total_seconds", s.total_seconds)
      .value("landing_bytes", s.landing_bytes);
  json.begin_object("sources");
  for (const auto& [name, st] : s.sources) {
    json.begin_object(name)
        .value("files", st.files)
        .value("bytes", st.bytes)
        .value("bytes_read", st.bytes_read)
        .value("lines", st.lines)
        .value("blank_lines", st.blank_lines)
        .value("accepted", st.accepted)
        .value("quarantined", st.quarantined)
        .end_object();
  }
  json.end_object();
  json.begin_object("zones");
  for (const auto& [zone, rows] : s.zones) json.begin_object(zone).value("rows", rows).end_object();
  json.end_object();
  json.begin_object("stages");
  for (const auto& stage : s.stages) {
    json.begin_object(stage.stage)
        .value("seconds", stage.seconds)
        .value("mb_per_s", stage.seconds > 0 ? megabytes(s.landing_bytes) / stage.seconds : 0.0)
        .end_object();
  }
  json.end_object();
  json.begin_object("exchange")
      .value("bytes_sent", s.exchange.bytes_sent)
      .value("bytes_received", s.exchange.bytes_received)
      .value("rounds", s.exchange.rounds)
      .end_object();
  json.value("peak_rss_bytes_max", s.peak_rss_bytes_max);
  json.begin_object("data_quality").value("shared_serials", s.shared_serials);
  json.begin_array("shared_serial_examples");
  for (const auto& [serial, customers] : s.shared_serial_examples)
    json.begin_object().value("serialNumber", serial).value("customers", customers).end_object();
  json.end_array()
      .value("duplicate_customer_rows", s.duplicate_customer_rows)
      .value("unknown_user_readings", s.unknown_user_readings)
      .value("quarantined", s.quarantined)
      .end_object();
  json.end_object();
  return json.str() + "\n";
}

std::string result_lines(const RunSummary& s) {
  std::string out;
  const auto line = [&](const std::string& key, const std::string& value) {
    out += "RESULT " + key + "=" + value + "\n";
  };
  const auto number = [](double value) { return printf_string("%.6f", value); };
  line("rules", s.rules);
  line("ranks", std::to_string(s.ranks));
  line("landing_bytes", std::to_string(s.landing_bytes));
  line("total_seconds", number(s.total_seconds));
  line("total_mb_per_s", number(s.total_seconds > 0 ? megabytes(s.landing_bytes) / s.total_seconds : 0.0));
  for (const auto& stage : s.stages) {
    line("stage_" + stage.stage + "_seconds", number(stage.seconds));
    line("stage_" + stage.stage + "_mb_per_s",
         number(stage.seconds > 0 ? megabytes(s.landing_bytes) / stage.seconds : 0.0));
  }
  line("exchange_bytes_sent", std::to_string(s.exchange.bytes_sent));
  line("exchange_rounds", std::to_string(s.exchange.rounds));
  line("peak_rss_bytes_max", std::to_string(s.peak_rss_bytes_max));
  for (const auto& [name, st] : s.sources) {
    line("source_" + name + "_lines", std::to_string(st.lines));
    line("source_" + name + "_quarantined", std::to_string(st.quarantined));
  }
  for (const auto& [zone, rows] : s.zones) line("zone_" + zone + "_rows", std::to_string(rows));
  return out;
}

}  // namespace mpilake::stedi
