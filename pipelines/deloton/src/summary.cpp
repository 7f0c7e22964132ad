// Deloton's end-of-run report: per-stream accounting, zones, stages, data quality; and summary.json.
#include <algorithm>
#include <string>

#include "mpilake/deloton/pipeline.hpp"
#include "mpilake/job/run_stats.hpp"
#include "mpilake/util/json_writer.hpp"

namespace mpilake::deloton {

using job::megabytes;
using job::megabytes_per_second;
using job::printf_string;
using job::with_commas;

namespace {

std::string stream_label(const std::string& name) {
  return name.empty() ? std::string("(root)") : name;
}

// The data-quality figures as (key, value, what it means), in report order.
std::vector<std::tuple<const char*, std::int64_t, const char*>> quality_rows(const DataQuality& q) {
  return {{"orphan_lines", q.orphan_lines, "INFO lines before their bike's first ride start (dump began mid-ride)"},
          {"unpaired_lines", q.unpaired_lines, "ride lines without telemetry and telemetry without a ride line"},
          {"duplicate_deliveries", q.duplicate_deliveries, "re-sent lines skipped"},
          {"rides_without_readings", q.rides_without_readings, "rides without readings"},
          {"rides_with_unknown_rider", q.rides_with_unknown_rider, "rides whose user JSON was unusable"},
          {"riders_with_changed_details", q.riders_with_changed_details, "riders whose details changed between rides"},
          {"bikes_in_several_streams", q.bikes_in_several_streams, "bikes seen in several streams"},
          {"user_strings_with_nul", q.user_strings_with_nul, "user strings with a NUL, written as U+FFFD"},
          {"rides_with_nul_in_bike", q.rides_with_nul_in_bike, "rides whose bike name held a NUL (U+FFFD)"}};
}

}  // namespace

std::string format_summary(const RunSummary& s) {
  std::string out;
  out += printf_string("mpilake run: pipeline=deloton, %d rank%s, %.3f s, %.1f MB landing (%.1f MB/s)\n", s.run.ranks,
                       s.run.ranks == 1 ? "" : "s", s.run.total_seconds, megabytes(s.run.landing_bytes),
                       megabytes_per_second(s.run.landing_bytes, s.run.total_seconds));
  out += "\n";
  int width = 8;  // the stream column fits the longest name
  for (const auto& [name, st] : s.streams) width = std::max(width, static_cast<int>(stream_label(name).size()));
  out += printf_string("%-*s %6s %14s %12s %8s %8s %12s %10s %11s\n", width, "stream", "files", "bytes", "lines",
                       "blank", "markers", "accepted", "duplicates", "quarantined");
  for (const auto& [name, st] : s.streams)
    out +=
        printf_string("%-*s %6lld %14s %12s %8s %8s %12s %10s %11s\n", width, stream_label(name).c_str(),
                      static_cast<long long>(st.files), with_commas(st.bytes).c_str(), with_commas(st.lines).c_str(),
                      with_commas(st.blank).c_str(), with_commas(st.markers).c_str(), with_commas(st.accepted).c_str(),
                      with_commas(st.duplicates).c_str(), with_commas(st.quarantined).c_str());
  out += "\n" + job::format_zone_table(s.run) + "\n" + job::format_stage_table(s.run);
  out += "\ndata quality:\n";
  for (const auto& [key, value, meaning] : quality_rows(s.quality))
    out += printf_string("  %-52s %s\n", (std::string(meaning) + ":").c_str(), with_commas(value).c_str());
  out += "  quarantined lines: " + with_commas(s.quarantined) + (s.quarantined > 0 ? " (see quarantine.jsonl)" : "") +
         "\n";
  return out;
}

std::string summary_json(const RunSummary& s) {
  JsonWriter json;
  json.begin_object().value("pipeline", s.run.pipeline);
  job::write_run_header_json(json, s.run);
  json.begin_object("streams");
  for (const auto& [name, st] : s.streams) {
    json.begin_object(name)
        .value("files", st.files)
        .value("bytes", st.bytes)
        .value("lines", st.lines)
        .value("blank", st.blank)
        .value("markers", st.markers)
        .value("accepted", st.accepted)
        .value("duplicates", st.duplicates)
        .value("quarantined", st.quarantined);
    json.begin_object("quarantined_by_reason");
    for (std::size_t r = 0; r < kReasonCount; ++r)
      if (st.by_reason[r] != 0) json.value(reason_name(static_cast<Reason>(r)), st.by_reason[r]);
    json.end_object().end_object();
  }
  json.end_object();
  job::write_run_results_json(json, s.run);
  json.begin_object("data_quality");
  for (const auto& [key, value, meaning] : quality_rows(s.quality)) json.value(key, value);
  json.value("quarantined", s.quarantined).end_object();
  json.end_object();
  return json.str() + "\n";
}

std::string result_lines(const RunSummary& s) {
  std::string out = job::result_run_lines(s.run);
  for (const auto& [name, st] : s.streams) {
    out += job::result_line("stream_" + stream_label(name) + "_lines", std::to_string(st.lines));
    out += job::result_line("stream_" + stream_label(name) + "_quarantined", std::to_string(st.quarantined));
  }
  for (const auto& [key, value, meaning] : quality_rows(s.quality)) out += job::result_line(key, std::to_string(value));
  return out + job::result_zone_lines(s.run);
}

}  // namespace mpilake::deloton
