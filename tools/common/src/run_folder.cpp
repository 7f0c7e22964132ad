#include "mpilake/tools/run_folder.hpp"

#include <fstream>
#include <sstream>
#include <system_error>
#include <variant>

namespace mpilake::tools {

namespace fs = std::filesystem;
using Kind = RunFolderError::Kind;

std::optional<std::int64_t> RunSummary::zone_rows(const std::string& zone) const {
  const auto zones = json.find("zones");
  if (zones == json.end() || !zones->is_object()) return std::nullopt;
  const auto entry = zones->find(zone);
  if (entry == zones->end() || !entry->is_object()) return std::nullopt;
  const auto rows = entry->find("rows");
  if (rows == entry->end() || !rows->is_number_integer()) return std::nullopt;
  return rows->get<std::int64_t>();
}

RunSummary read_summary(const fs::path& dir) {
  std::error_code error;
  if (!fs::exists(dir, error)) throw RunFolderError(Kind::no_folder, "", dir.string() + ": no such folder");
  if (!fs::is_directory(dir, error)) throw RunFolderError(Kind::not_a_folder, "", dir.string() + " is not a folder");
  RunSummary summary;
  summary.dir = dir;
  summary.path = dir / "summary.json";
  if (!fs::is_regular_file(summary.path, error))
    throw RunFolderError(Kind::no_summary, "", dir.string() + " has no summary.json");
  std::ifstream in(summary.path, std::ios::binary);
  if (!in) throw RunFolderError(Kind::unreadable_summary, "", "cannot read " + summary.path.string());
  std::ostringstream text;
  text << in.rdbuf();
  summary.text = text.str();
  summary.json = nlohmann::json::parse(summary.text, nullptr, /*allow_exceptions=*/false);
  if (summary.json.is_discarded())
    throw RunFolderError(Kind::invalid_summary, "", summary.path.string() + " is not valid JSON");
  if (!summary.json.is_object())
    throw RunFolderError(Kind::not_an_object, "", summary.path.string() + " is not a JSON object");
  const auto pipeline = summary.json.find("pipeline");
  if (pipeline != summary.json.end() && pipeline->is_string()) summary.pipeline = pipeline->get<std::string>();
  const auto created = summary.json.find("created_utc");
  if (created != summary.json.end() && created->is_string()) summary.created_utc = created->get<std::string>();
  return summary;
}

void require_pipeline(const RunSummary& summary, std::string_view pipeline) {
  if (summary.pipeline != pipeline)
    throw RunFolderError(Kind::wrong_pipeline, summary.pipeline,
                         summary.dir.string() + " is not a " + std::string(pipeline) + " run (summary.json says \"" +
                             summary.pipeline + "\")");
}

void require_zones(const fs::path& dir, const std::vector<std::string>& zones) {
  std::error_code error;
  for (const auto& zone : zones)
    if (!fs::is_regular_file(dir / (zone + ".h5"), error))
      throw RunFolderError(Kind::missing_zone, zone, dir.string() + ": " + zone + ".h5 is missing");
}

const std::string* string_attribute(const ZoneFile& zone, std::string_view name) {
  for (const auto& attribute : zone.attributes)
    if (attribute.name == name) return std::get_if<std::string>(&attribute.value);
  return nullptr;
}

namespace {

const std::int64_t* int_attribute(const ZoneFile& zone, std::string_view name) {
  for (const auto& attribute : zone.attributes)
    if (attribute.name == name) return std::get_if<std::int64_t>(&attribute.value);
  return nullptr;
}

}  // namespace

void check_zone_of_run(const RunSummary& summary, const std::string& zone, const ZoneFile& file,
                       const ZoneChecks& checks) {
  if (checks.created_utc) {
    const std::string* created = string_attribute(file, "created_utc");
    if (created == nullptr || *created != summary.created_utc)
      throw RunFolderError(Kind::zone_of_other_run, zone, zone + ".h5 and summary.json are from different runs");
  }
  if (checks.rows) {
    const auto rows = summary.zone_rows(zone);
    const std::int64_t* attribute = int_attribute(file, "rows");
    if (!rows || *rows != file.rows || attribute == nullptr || *attribute != file.rows)
      throw RunFolderError(Kind::zone_rows_differ, zone, zone + ".h5 row count differs from summary.json");
  }
}

void check_zone_pipeline(const std::string& zone, const ZoneFile& file, std::string_view pipeline) {
  const std::string* named = string_attribute(file, "pipeline");
  if (named != nullptr && *named != pipeline)
    throw RunFolderError(
        Kind::zone_pipeline_differs, *named,
        zone + ".h5 belongs to pipeline '" + *named + "', summary.json says '" + std::string(pipeline) + "'");
}

}  // namespace mpilake::tools
