#include "mpilake/job/zone_audit.hpp"

#include <algorithm>
#include <sstream>

#include "mpilake/h5/handle.hpp"
#include "mpilake/h5/zone_reader.hpp"
#include "mpilake/util/json_writer.hpp"

namespace mpilake::job {

namespace fs = std::filesystem;

std::string json_quoted(std::string_view text) {
  std::string out;
  append_json_string(out, text);
  return out;
}

std::vector<std::string> column_names(const Schema& schema) {
  std::vector<std::string> names;
  for (const auto& column : schema) names.push_back(column.name);
  return names;
}

void Findings::add(const std::string& zone, std::int64_t row, const std::string& rule, const std::string& values) {
  ++report_.violations;
  auto it = std::find_if(report_.violations_by_zone.begin(), report_.violations_by_zone.end(),
                         [&](const auto& entry) { return entry.first == zone; });
  if (it == report_.violations_by_zone.end())
    report_.violations_by_zone.emplace_back(zone, 1);
  else
    ++it->second;
  if (static_cast<std::int64_t>(report_.examples.size()) >= max_report_) return;
  std::string line = zone + " row " + (row < 0 ? std::string("-") : std::to_string(row)) + ": " + rule;
  if (!values.empty()) line += ": " + values;
  report_.examples.push_back(std::move(line));
}

std::optional<std::string> ZoneMeta::text(const std::string& name) const {
  const auto it = text_attributes.find(name);
  if (it == text_attributes.end()) return std::nullopt;
  return it->second;
}

ZoneMeta read_zone_meta(const fs::path& path) {
  ZoneMeta meta;
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) return meta;
  meta.present = true;
  try {
    const ZoneFile file = read_zone(path, 0);
    for (const auto& attribute : file.attributes) {
      if (std::holds_alternative<std::string>(attribute.value))
        meta.text_attributes[attribute.name] = std::get<std::string>(attribute.value);
      if (attribute.name == "rows" && std::holds_alternative<std::int64_t>(attribute.value))
        meta.rows_attribute = std::get<std::int64_t>(attribute.value);
      if (attribute.name == "columns" && std::holds_alternative<std::vector<std::string>>(attribute.value))
        meta.columns_attribute = std::get<std::vector<std::string>>(attribute.value);
    }
    meta.datasets = file.datasets;
  } catch (const std::exception& e) {
    meta.error = e.what();
  }
  return meta;
}

ZoneAuditor::ZoneAuditor(fs::path out, AuditReport& report, Findings& findings, std::int64_t chunk_rows,
                         std::optional<std::map<std::string, std::int64_t>> summary_rows)
    : out_(std::move(out)),
      report_(report),
      findings_(findings),
      chunk_rows_(std::max<std::int64_t>(chunk_rows, 1)),
      summary_rows_(std::move(summary_rows)) {}

const ZoneMeta& ZoneAuditor::meta(const std::string& zone) {
  auto it = meta_.find(zone);
  if (it == meta_.end()) it = meta_.emplace(zone, read_zone_meta(out_ / (zone + ".h5"))).first;
  return it->second;
}

std::optional<ZoneChunkReader> ZoneAuditor::open(const std::string& zone, const Schema& columns) {
  const fs::path path = out_ / (zone + ".h5");
  const ZoneMeta& meta = this->meta(zone);
  if (!meta.present) {
    findings_.add(zone, -1, "zone file missing", "path=" + json_quoted(path.string()));
    return std::nullopt;
  }
  if (!meta.error.empty()) {
    findings_.add(zone, -1, "zone file unreadable", json_quoted(meta.error));
    return std::nullopt;
  }
  std::optional<ZoneChunkReader> reader;
  try {
    reader.emplace(path, column_names(columns));
  } catch (const std::exception& e) {
    findings_.add(zone, -1, "zone file unreadable", json_quoted(e.what()));
    return std::nullopt;
  }
  ++report_.zones_checked;
  if (meta.text("zone") != zone)
    findings_.add(zone, -1, "`zone` attribute does not name the zone",
                  "zone=" + (meta.text("zone") ? json_quoted(*meta.text("zone")) : std::string("(missing)")));
  if (meta.columns_attribute != column_names(columns))
    findings_.add(zone, -1, "`columns` attribute differs from the contract");
  bool types_ok = true;
  for (std::size_t c = 0; c < columns.size(); ++c) {
    if (reader->schema()[c].type != columns[c].type) {
      findings_.add(zone, -1, "column has the wrong type",
                    "column=" + json_quoted(columns[c].name) +
                        " type=" + std::string(column_type_name(reader->schema()[c].type)) +
                        " expected=" + std::string(column_type_name(columns[c].type)));
      types_ok = false;
    }
  }
  // Counts: every dataset the same length, equal to the `rows` attribute and to summary.json.
  const auto& lengths = reader->lengths();
  const std::int64_t length = lengths.empty() ? 0 : lengths.front();
  for (std::size_t c = 1; c < lengths.size(); ++c)
    if (lengths[c] != length)
      findings_.add(zone, -1, "datasets differ in length",
                    json_quoted(columns[0].name) + "=" + std::to_string(length) + " " + json_quoted(columns[c].name) +
                        "=" + std::to_string(lengths[c]));
  if (!meta.rows_attribute)
    findings_.add(zone, -1, "`rows` attribute missing");
  else if (*meta.rows_attribute != length)
    findings_.add(zone, -1, "`rows` attribute differs from the dataset length",
                  "rows=" + std::to_string(*meta.rows_attribute) + " datasets=" + std::to_string(length));
  if (summary_rows_) {
    const auto it = summary_rows_->find(zone);
    if (it == summary_rows_->end())
      findings_.add(zone, -1, "zone missing from summary.json");
    else if (it->second != length)
      findings_.add(zone, -1, "summary.json row count differs from the zone",
                    "summary=" + std::to_string(it->second) + " datasets=" + std::to_string(length));
  }
  if (!types_ok) return std::nullopt;
  return reader;
}

void ZoneAuditor::walk(const std::string& zone, const Schema& columns, const CheckRow& check_row) {
  auto reader = open(zone, columns);
  if (!reader) return;
  Table chunk;
  std::vector<std::string> problems;
  try {
    while (reader->next(chunk, chunk_rows_)) {
      for (std::size_t r = 0; r < chunk.num_rows(); ++r) {
        problems.clear();
        const std::string values = check_row(chunk, r, problems);
        if (problems.empty()) continue;
        std::string rule;
        for (const auto& problem : problems) rule += (rule.empty() ? "" : "; ") + problem;
        findings_.add(zone, reader->chunk_start() + static_cast<std::int64_t>(r), rule, values);
      }
      report_.rows_checked += static_cast<std::int64_t>(chunk.num_rows());
    }
  } catch (const H5Error& e) {
    findings_.add(zone, -1, "zone file unreadable", json_quoted(e.what()));
  }
}

void ZoneAuditor::check_datasets(const std::string& zone, const Schema& columns, const std::vector<std::string>& also) {
  const ZoneMeta& found = meta(zone);
  for (const auto& name : found.datasets) {
    const bool allowed = std::any_of(columns.begin(), columns.end(), [&](const auto& c) { return c.name == name; }) ||
                         std::find(also.begin(), also.end(), name) != also.end();
    if (!allowed) findings_.add(zone, -1, "dataset outside the contract", "dataset=" + json_quoted(name));
  }
}

namespace {

// The report travels from rank 0 as text: one field per line (values never hold a raw newline:
// example lines quote their strings as JSON).
std::string encode_report(const AuditReport& report) {
  std::ostringstream out;
  out << report.rules << '\n'
      << report.zones_checked << '\n'
      << report.rows_checked << '\n'
      << report.violations << '\n'
      << report.violations_by_zone.size() << '\n';
  for (const auto& [zone, count] : report.violations_by_zone) out << zone << '\n' << count << '\n';
  for (const auto& line : report.examples) out << line << '\n';
  return out.str();
}

AuditReport decode_report(const std::string& text) {
  std::istringstream in(text);
  AuditReport report;
  std::string line;
  const auto next_line = [&] {
    std::getline(in, line);
    return line;
  };
  report.rules = next_line();
  report.zones_checked = std::stoll(next_line());
  report.rows_checked = std::stoll(next_line());
  report.violations = std::stoll(next_line());
  const std::size_t zones = std::stoull(next_line());
  for (std::size_t i = 0; i < zones; ++i) {
    std::string zone = next_line();
    report.violations_by_zone.emplace_back(zone, std::stoll(next_line()));
  }
  while (std::getline(in, line)) report.examples.push_back(line);
  return report;
}

}  // namespace

AuditReport audit_on_root(const Comm& comm, const std::function<void(AuditReport&)>& audit) {
  std::string encoded;
  comm.on_root([&] {
    AuditReport report;
    audit(report);
    encoded = encode_report(report);
  });
  return decode_report(comm.broadcast(encoded));
}

std::string format_audit(const AuditReport& report) {
  std::string out;
  for (const auto& line : report.examples) out += line + "\n";
  if (report.violations > static_cast<std::int64_t>(report.examples.size()))
    out += "... " + std::to_string(report.violations - static_cast<std::int64_t>(report.examples.size())) +
           " more violations not listed\n";
  if (!report.violations_by_zone.empty()) {
    out += "violations by zone:";
    for (const auto& [zone, count] : report.violations_by_zone) out += " " + zone + "=" + std::to_string(count);
    out += "\n";
  }
  out += "rules audited: " + report.rules + "\n";
  out += "audit: " + std::to_string(report.rows_checked) + " rows checked in " + std::to_string(report.zones_checked) +
         " zones, " + std::to_string(report.violations) + " violations\n";
  return out;
}

}  // namespace mpilake::job
