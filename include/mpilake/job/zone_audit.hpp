#pragma once
// What every pipeline's `mpilake audit` shares: the report and its findings, the contract checks of
// a zone file (its `zone`, `columns` and `rows` attributes, column types, equal dataset lengths,
// the row count in summary.json), a bounded walk over its rows, and running the audit on rank 0
// with the report shared to every rank. A pipeline's audit adds the row rules.
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "mpilake/h5/zone_chunks.hpp"
#include "mpilake/mpi/comm.hpp"
#include "mpilake/table/table.hpp"

namespace mpilake::job {

struct AuditReport {
  std::string rules;               // what was audited against (a rule set, or the pipeline's name)
  std::int64_t zones_checked = 0;  // zone files found and read
  std::int64_t rows_checked = 0;
  std::int64_t violations = 0;
  // One line per violation, the first max_report of them:
  //   <zone> row <index>: <rule>: <key values>   (row "-" for file-level findings such as counts)
  std::vector<std::string> examples;
  std::vector<std::pair<std::string, std::int64_t>> violations_by_zone;  // zones with violations, in zone order
  bool clean() const { return violations == 0; }
};

// Collects violations: counts all, keeps the first `max_report` lines.
class Findings {
 public:
  Findings(AuditReport& report, std::int64_t max_report) : report_(report), max_report_(max_report) {}
  void add(const std::string& zone, std::int64_t row, const std::string& rule, const std::string& values = {});

 private:
  AuditReport& report_;
  std::int64_t max_report_;
};

// A zone file's root attributes, as far as an audit needs them.
struct ZoneMeta {
  bool present = false;
  std::string error;  // unreadable attributes
  std::map<std::string, std::string> text_attributes;
  std::optional<std::int64_t> rows_attribute;
  std::vector<std::string> columns_attribute;
  std::vector<std::string> datasets;  // every object at the file's root
  std::optional<std::string> text(const std::string& name) const;
};
ZoneMeta read_zone_meta(const std::filesystem::path& path);

// Checks zone files of one output folder against their contract and walks their rows.
class ZoneAuditor {
 public:
  // `summary_rows`: each zone's rows as summary.json reports them (nullopt: summary.json unread).
  ZoneAuditor(std::filesystem::path out, AuditReport& report, Findings& findings, std::int64_t chunk_rows,
              std::optional<std::map<std::string, std::int64_t>> summary_rows);

  const ZoneMeta& meta(const std::string& zone);
  // Opens OUT/<zone>.h5 and checks its counts and columns; nullopt when its rows cannot be walked.
  std::optional<ZoneChunkReader> open(const std::string& zone, const Schema& columns);
  // Calls check_row(chunk, row, problems) for every row (problems empty: the row is fine); the text
  // it returns names the row's values in a finding.
  using CheckRow = std::function<std::string(const Table&, std::size_t, std::vector<std::string>&)>;
  void walk(const std::string& zone, const Schema& columns, const CheckRow& check_row);
  // A finding for each dataset of the zone file that is neither one of `columns` nor in `also`
  // (data the contract does not allow there, e.g. a personal column in a public zone).
  void check_datasets(const std::string& zone, const Schema& columns, const std::vector<std::string>& also = {});

 private:
  std::filesystem::path out_;
  AuditReport& report_;
  Findings& findings_;
  std::int64_t chunk_rows_;
  std::optional<std::map<std::string, std::int64_t>> summary_rows_;
  std::map<std::string, ZoneMeta> meta_;
};

// Collective: runs `audit` on rank 0 and returns its report on every rank. An exception in it
// becomes a ConsistentError on every rank (the audit could not run).
AuditReport audit_on_root(const Comm& comm, const std::function<void(AuditReport&)>& audit);

// The text the CLI prints: the example lines, a per-zone tally when there are violations, and the
// final line `audit: N rows checked in Z zones, V violations`.
std::string format_audit(const AuditReport& report);

// `text` as a JSON string literal (for values in findings).
std::string json_quoted(std::string_view text);
std::vector<std::string> column_names(const Schema& schema);

}  // namespace mpilake::job
