// The end-of-run report: a table for people (printed by rank 0) and summary.json for tools.
#include <string>

#include "mpilake/job/run_stats.hpp"
#include "mpilake/stedi/pipeline.hpp"
#include "mpilake/util/json_writer.hpp"

namespace mpilake::stedi {

using job::megabytes;
using job::megabytes_per_second;
using job::printf_string;
using job::with_commas;

std::string format_summary(const RunSummary& s) {
  std::string out;
  out += printf_string("mpilake run: rules=%s, %d rank%s, %.3f s, %.1f MB landing (%.1f MB/s)\n", s.rules.c_str(),
                       s.run.ranks, s.run.ranks == 1 ? "" : "s", s.run.total_seconds, megabytes(s.run.landing_bytes),
                       megabytes_per_second(s.run.landing_bytes, s.run.total_seconds));
  out += "\n";
  out += printf_string("%-16s %6s %14s %12s %12s %12s %8s\n", "source", "files", "bytes", "lines", "accepted",
                       "quarantined", "blank");
  for (const auto& [name, st] : s.sources)
    out += printf_string("%-16s %6lld %14s %12s %12s %12s %8s\n", name.c_str(), static_cast<long long>(st.files),
                         with_commas(st.bytes).c_str(), with_commas(st.lines).c_str(), with_commas(st.accepted).c_str(),
                         with_commas(st.quarantined).c_str(), with_commas(st.blank_lines).c_str());
  out += "\n";
  out += job::format_zone_table(s.run);
  out += "\n";
  out += job::format_stage_table(s.run);
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
  json.begin_object().value("pipeline", s.run.pipeline).value("rules", s.rules);
  job::write_run_header_json(json, s.run);
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
  job::write_run_results_json(json, s.run);
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
  std::string out = job::result_line("rules", s.rules) + job::result_run_lines(s.run);
  for (const auto& [name, st] : s.sources) {
    out += job::result_line("source_" + name + "_lines", std::to_string(st.lines));
    out += job::result_line("source_" + name + "_quarantined", std::to_string(st.quarantined));
  }
  return out + job::result_zone_lines(s.run);
}

}  // namespace mpilake::stedi
