#pragma once
// What `mpilake export` creates in PostgreSQL for each pipeline: per zone a table with its columns
// (HDF5 dataset -> SQL name and type), primary key and indexes, which columns are personal, and the
// views for BI tools. Spelled out per pipeline (docs/export.md shows the same tables); a unit test
// checks the columns against the pipelines' own schemas.
#include <string>
#include <vector>

namespace mpilake::exporter {

// How an HDF5 column becomes a PostgreSQL value.
enum class SqlType {
  BigInt,               // int64; INT64_MIN (the `null_value`) -> NULL
  Double,               // float64; NaN -> NULL
  Text,                 // string; "" -> NULL
  TextKeepEmpty,        // string where "" is a value (the root stream's name, quarantine records)
  Date,                 // "YYYY-MM-DD" string -> date; "" -> NULL
  TimestampFromMicros,  // int64 µs since the epoch (UTC) -> timestamptz; INT64_MIN -> NULL
  TimestampFromMillis,  // int64 ms since the epoch (UTC) -> timestamptz (STEDI); INT64_MIN -> NULL
};

const char* sql_type_name(SqlType type);  // "bigint", "double precision", "text", "date", "timestamptz"

struct ExportColumn {
  std::string dataset;  // the zone's dataset
  std::string sql_name;
  SqlType type;
  bool personal = false;  // not granted to the BI role
};

struct ExportTable {
  std::string zone;  // OUT/<zone>.h5; also the table's name
  std::vector<ExportColumn> columns;
  std::vector<std::string> primary_key;           // SQL column names; empty: none
  std::vector<std::vector<std::string>> indexes;  // each: the SQL columns of one index
  bool optional = false;                          // loaded when the file exists (quarantine)
  bool bi_visible = true;                         // the BI role may read the non-personal columns (false: not at all)
};

struct ExportView {
  std::string name;
  std::string select_sql;  // the view's body; `{schema}` stands for the quoted staging schema
};

struct PipelineCatalog {
  std::string pipeline;  // "stedi" | "deloton"
  std::vector<ExportTable> tables;
  std::vector<ExportView> views;  // every view is granted to the BI role
};

// The catalog of `pipeline`; throws std::invalid_argument for an unknown name.
const PipelineCatalog& catalog_for(const std::string& pipeline);

}  // namespace mpilake::exporter
