#pragma once
// A finished run's output folder as the tools read it (report, alerts, export, serve): summary.json
// read and checked, its pipeline, its zones present and of this run. The checks throw a
// RunFolderError that says which check failed (`kind`) and about what (`subject`: a zone, the
// pipeline found); each tool words the line for its users itself.
#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "mpilake/h5/zone_reader.hpp"

namespace mpilake::tools {

class RunFolderError : public std::runtime_error {
 public:
  enum class Kind {
    no_folder,              // the folder does not exist
    not_a_folder,           // it is something else
    no_summary,             // no DIR/summary.json
    unreadable_summary,     // it cannot be opened
    invalid_summary,        // it is not JSON
    not_an_object,          // it is JSON, but not an object
    wrong_pipeline,         // "pipeline" is not the one asked for (subject: the one found, "" when none)
    missing_zone,           // subject.h5 is not there
    zone_of_other_run,      // subject.h5's created_utc is not summary.json's
    zone_rows_differ,       // subject.h5's row count is not summary.json's
    zone_pipeline_differs,  // a zone's `pipeline` attribute names another one (subject: that one)
  };
  RunFolderError(Kind kind, std::string subject, const std::string& what)
      : std::runtime_error(what), kind(kind), subject(std::move(subject)) {}
  Kind kind;
  std::string subject;
};

// summary.json of a run folder.
struct RunSummary {
  std::filesystem::path dir;
  std::filesystem::path path;  // dir / "summary.json"
  std::string text;            // its bytes (the tools name a run by hashing them)
  nlohmann::json json;         // an object
  std::string pipeline;        // "pipeline" when a string, else ""
  std::string created_utc;     // "created_utc" when a string, else ""

  // zones.<zone>.rows when an integer.
  std::optional<std::int64_t> zone_rows(const std::string& zone) const;
};

// Reads and parses DIR/summary.json. Throws RunFolderError: no_folder, not_a_folder, no_summary,
// unreadable_summary, invalid_summary, not_an_object.
RunSummary read_summary(const std::filesystem::path& dir);

// Throws wrong_pipeline (subject: the pipeline found) unless summary.json names `pipeline`.
void require_pipeline(const RunSummary& summary, std::string_view pipeline);

// Throws missing_zone (subject: the first zone without DIR/<zone>.h5).
void require_zones(const std::filesystem::path& dir, const std::vector<std::string>& zones);

// A zone's string attribute, or nullptr when it has none of that name and type.
const std::string* string_attribute(const ZoneFile& zone, std::string_view name);

// Checks a zone file read from the folder against summary.json. `zone` is the zone's name (the
// error's subject).
struct ZoneChecks {
  bool created_utc = true;  // its created_utc attribute is summary.json's (zone_of_other_run)
  bool rows = false;        // its row count is zones.<zone>.rows and its `rows` attribute (zone_rows_differ)
};
void check_zone_of_run(const RunSummary& summary, const std::string& zone, const ZoneFile& file,
                       const ZoneChecks& checks = {});

// Throws zone_pipeline_differs when the zone's `pipeline` attribute names another pipeline than
// `pipeline` (a zone without the attribute passes: STEDI's and older zones lack it).
void check_zone_pipeline(const std::string& zone, const ZoneFile& file, std::string_view pipeline);

}  // namespace mpilake::tools
