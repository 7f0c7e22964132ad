#include "mpilake/export/export.hpp"

#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <ctime>
#include <optional>

#include "mpilake/export/catalog.hpp"
#include "mpilake/export/copy_binary.hpp"
#include "mpilake/export/pg_connection.hpp"
#include "mpilake/h5/zone_chunks.hpp"
#include "mpilake/h5/zone_reader.hpp"
#include "mpilake/job/progress.hpp"
#include "mpilake/job/run_stats.hpp"
#include "mpilake/mpi/fault.hpp"
#include "mpilake/tools/run_folder.hpp"

namespace mpilake::exporter {

namespace fs = std::filesystem;

namespace {

constexpr std::size_t kSendBytes = 1 << 20;           // COPY data is handed to libpq in pieces of about 1 MB
const std::string kSchemaComment = "mpilake export";  // marks a schema this command may replace

double now_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// The run-folder reader's findings in the words of export.
std::string export_message(const fs::path& out, const tools::RunFolderError& e) {
  using Kind = tools::RunFolderError::Kind;
  const fs::path summary = out / "summary.json";
  switch (e.kind) {
    case Kind::no_folder:
    case Kind::not_a_folder: return "'" + out.string() + "' is not a folder";
    case Kind::no_summary:
      return "'" + out.string() + "' is not the output folder of a finished mpilake run (no summary.json)";
    case Kind::unreadable_summary: return "cannot read '" + summary.string() + "'";
    case Kind::invalid_summary:
    case Kind::not_an_object: return "'" + summary.string() + "' is not a JSON object";
    default: return e.what();
  }
}

// The pipeline named by summary.json, checked against the zones' `pipeline` attribute; STEDI's
// zones and older summaries may lack it (then: stedi).
std::string run_pipeline(const fs::path& out) {
  tools::RunSummary summary;
  try {
    summary = tools::read_summary(out);
  } catch (const tools::RunFolderError& e) {
    throw std::runtime_error(export_message(out, e));
  }
  const std::string pipeline = summary.pipeline.empty() ? "stedi" : summary.pipeline;
  try {
    (void)catalog_for(pipeline);
  } catch (const std::invalid_argument&) {
    throw std::runtime_error("'" + summary.path.string() + "' names pipeline '" + pipeline +
                             "', which export does not know");
  }
  return pipeline;
}

// Opens each zone of the catalog (serially, metadata only) and checks its datasets have the types
// the catalog expects; returns the tables to load (optional ones only when their file exists).
std::vector<const ExportTable*> check_zones(const fs::path& out, const PipelineCatalog& catalog) {
  std::vector<const ExportTable*> tables;
  for (const auto& table : catalog.tables) {
    const fs::path path = out / (table.zone + ".h5");
    try {
      tools::require_zones(out, {table.zone});
    } catch (const tools::RunFolderError&) {
      if (table.optional) continue;
      throw std::runtime_error("'" + out.string() + "' is not a complete " + catalog.pipeline +
                               " run: " + path.filename().string() + " is missing");
    }
    const ZoneFile zone = read_zone(path, 0);
    try {
      tools::check_zone_pipeline(table.zone, zone, catalog.pipeline);
    } catch (const tools::RunFolderError& e) {
      throw std::runtime_error(path.string() + " belongs to pipeline '" + e.subject + "', summary.json says '" +
                               catalog.pipeline + "'");
    }
    for (const auto& column : table.columns) {
      const ColumnInfo* found = nullptr;
      for (const auto& info : zone.columns)
        if (info.name == column.dataset) found = &info;
      if (found == nullptr) throw std::runtime_error(path.string() + ": column '" + column.dataset + "' is missing");
      const ColumnType expected = column.type == SqlType::BigInt || column.type == SqlType::TimestampFromMicros ||
                                          column.type == SqlType::TimestampFromMillis
                                      ? ColumnType::Int64
                                  : column.type == SqlType::Double ? ColumnType::Float64
                                                                   : ColumnType::String;
      if (found->type != expected)
        throw std::runtime_error(path.string() + ": column '" + column.dataset + "' is " +
                                 std::string(column_type_name(found->type)) + ", expected " +
                                 std::string(column_type_name(expected)));
    }
    tables.push_back(&table);
  }
  return tables;
}

// The integer NULL of each int64 column: its `null_value` attribute, else INT64_MIN.
std::vector<std::int64_t> null_values(const fs::path& path, const ExportTable& table) {
  const ZoneFile zone = read_zone(path, 0);
  std::vector<std::int64_t> values;
  for (const auto& column : table.columns) {
    std::int64_t value = kNullInt64;
    for (const auto& info : zone.columns)
      if (info.name == column.dataset && info.has_null_value) value = info.null_value;
    values.push_back(value);
  }
  return values;
}

// Test hook (docs/export.md): with MPILAKE_FAULT=export:<rank>, that rank kills itself (SIGKILL) in the
// middle of its COPY, once it has sent MPILAKE_EXPORT_KILL_AFTER_ROWS rows of all zones (default 1),
// after handing them to the server.
std::int64_t kill_after_rows() {
  if (std::getenv("MPILAKE_FAULT") == nullptr) return -1;
  const char* text = std::getenv("MPILAKE_EXPORT_KILL_AFTER_ROWS");
  if (text == nullptr) return 1;
  return std::max<std::int64_t>(1, std::atoll(text));
}

struct LoadFigures {
  std::int64_t rows = 0;
  std::int64_t out_of_range = 0;  // timestamps beyond timestamptz's range, not-a-date strings: loaded as NULL
};

// Streams rows [begin, end) of one zone into `target` with binary COPY.
class ZoneLoader {
 public:
  ZoneLoader(PgConnection& connection, const Comm& comm, job::Progress& progress, std::int64_t batch_rows,
             std::int64_t& rows_sent_in_all)
      : connection_(connection),
        comm_(comm),
        progress_(progress),
        batch_rows_(batch_rows),
        rows_sent_in_all_(rows_sent_in_all) {}

  LoadFigures load(const fs::path& path, const ExportTable& table, const std::string& target) {
    std::vector<std::string> datasets;
    std::string columns;
    for (const auto& column : table.columns) {
      datasets.push_back(column.dataset);
      columns += (columns.empty() ? "" : ", ") + connection_.quote_identifier(column.sql_name);
    }
    const std::vector<std::int64_t> nulls = null_values(path, table);
    ZoneChunkReader reader(path, datasets);
    const std::int64_t rows = reader.rows();
    const std::int64_t begin = rows * comm_.rank() / comm_.size(), end = rows * (comm_.rank() + 1) / comm_.size();
    reader.set_range(begin, end);
    const std::string what = "loading " + table.zone + " rows " + std::to_string(begin) + ".." + std::to_string(end);
    connection_.copy_begin("COPY " + target + " (" + columns + ") FROM STDIN (FORMAT binary)", what);
    progress_.begin("export " + table.zone, end - begin, job::ProgressUnit::Rows);
    LoadFigures figures;
    CopyBinaryEncoder encoder;
    encoder.header();
    const auto fields = static_cast<std::int16_t>(table.columns.size());
    Table chunk;
    while (reader.next(chunk, batch_rows_)) {
      for (std::size_t row = 0; row < chunk.num_rows(); ++row) {
        encoder.begin_row(fields);
        for (std::size_t c = 0; c < table.columns.size(); ++c)
          encode(encoder, chunk, c, row, table.columns[c], nulls[c], figures);
        ++figures.rows;
        if (++rows_sent_in_all_ == kill_row_) {
          connection_.copy_send(encoder.bytes(), what);
          encoder.clear();
          fault_point("export", comm_);
        }
        if (encoder.size() >= kSendBytes) {
          connection_.copy_send(encoder.bytes(), what);
          encoder.clear();
        }
      }
      progress_.update(figures.rows);
    }
    encoder.trailer();
    connection_.copy_send(encoder.bytes(), what);
    connection_.copy_end(what);
    progress_.end();
    return figures;
  }

 private:
  static void encode(CopyBinaryEncoder& encoder, const Table& chunk, std::size_t c, std::size_t row,
                     const ExportColumn& column, std::int64_t null_value, LoadFigures& figures) {
    switch (column.type) {
      case SqlType::BigInt: {
        const std::int64_t value = chunk.ints(c)[row];
        if (value == null_value)
          encoder.null();
        else
          encoder.bigint(value);
        return;
      }
      case SqlType::TimestampFromMicros:
      case SqlType::TimestampFromMillis: {
        const std::int64_t value = chunk.ints(c)[row];
        if (value == null_value) {
          encoder.null();
          return;
        }
        const auto timestamp = column.type == SqlType::TimestampFromMicros ? postgres_timestamp_from_micros(value)
                                                                           : postgres_timestamp_from_millis(value);
        if (timestamp) {
          encoder.timestamp(*timestamp);
        } else {
          encoder.null();
          ++figures.out_of_range;
        }
        return;
      }
      case SqlType::Double: {
        const double value = chunk.floats(c)[row];
        if (std::isnan(value))
          encoder.null();
        else
          encoder.float8(value);
        return;
      }
      case SqlType::Text:
      case SqlType::TextKeepEmpty: {
        const std::string_view value = chunk.strings(c)[row];
        if (value.empty() && column.type == SqlType::Text)
          encoder.null();
        else
          encoder.text(value);
        return;
      }
      case SqlType::Date: {
        const std::string_view value = chunk.strings(c)[row];
        if (value.empty()) {
          encoder.null();
          return;
        }
        const auto days = postgres_date(value);
        if (days) {
          encoder.date(*days);
        } else {
          encoder.null();
          ++figures.out_of_range;
        }
        return;
      }
    }
  }

  PgConnection& connection_;
  const Comm& comm_;
  job::Progress& progress_;
  std::int64_t batch_rows_;
  std::int64_t& rows_sent_in_all_;
  std::int64_t kill_row_ = kill_after_rows();
};

// Rank 0's side of the export: the session that holds the export lock for the schema, cleans up,
// creates the staging schema, and finally builds keys, views and grants and swaps.
class Coordinator {
 public:
  Coordinator(PgConnection& connection, const PipelineCatalog& catalog, std::string schema, std::string bi_role)
      : db_(connection), catalog_(catalog), schema_(std::move(schema)), bi_role_(std::move(bi_role)) {}

  const std::string& staging() const { return staging_; }

  // Takes the lock (one export per schema at a time), drops leftovers of killed exports, refuses a
  // schema this command did not make, creates the staging schema with empty tables.
  void prepare(const std::vector<const ExportTable*>& tables, job::Progress& progress) {
    const std::string lock_key = db_.quote_literal("mpilake export " + schema_);
    if (db_.column("SELECT pg_try_advisory_lock(hashtext(" + lock_key + "))", "taking the export lock") !=
        std::vector<std::string>{"t"})
      throw PgError("another mpilake export into schema '" + schema_ + "' is running");
    check_replaceable();
    const std::string pattern = db_.quote_literal(like_escape(schema_ + "__load_") + "%");
    for (const auto& leftover :
         db_.column("SELECT nspname FROM pg_namespace WHERE nspname LIKE " + pattern + " ORDER BY 1",
                    "looking for leftover staging schemas")) {
      db_.exec("DROP SCHEMA " + db_.quote_identifier(leftover) + " CASCADE", "dropping leftover schema " + leftover);
      progress.line("export: dropped leftover staging schema " + leftover + " (from an interrupted export)");
    }
    staging_ = schema_ + "__load_" + std::to_string(std::time(nullptr)) + "_" + std::to_string(getpid());
    std::string sql = "BEGIN; CREATE SCHEMA " + db_.quote_identifier(staging_) + ";";
    for (const ExportTable* table : tables) {
      sql += " CREATE TABLE " + qualified(staging_, table->zone) + " (";
      for (std::size_t c = 0; c < table->columns.size(); ++c)
        sql += std::string(c ? ", " : "") + db_.quote_identifier(table->columns[c].sql_name) + " " +
               sql_type_name(table->columns[c].type);
      sql += ");";
    }
    sql += " COMMIT;";
    db_.exec(sql, "creating staging schema " + staging_);
  }

  // One transaction: keys, indexes, statistics, views, the BI role and its grants on the staging
  // schema, then the old schema dropped and the staging schema renamed. Readers see the old tables
  // until the commit and the new ones after it.
  void build_and_swap(const std::vector<const ExportTable*>& tables, const std::string& run_folder) {
    const std::string staged = db_.quote_identifier(staging_);
    std::string sql = "BEGIN; SET LOCAL lock_timeout = '120s';";
    for (const ExportTable* table : tables) {
      const std::string name = qualified(staging_, table->zone);
      if (!table->primary_key.empty())
        sql += " ALTER TABLE " + name + " ADD PRIMARY KEY (" + column_list(table->primary_key) + ");";
      for (const auto& index : table->indexes) {
        std::string index_name = table->zone;
        for (const auto& column : index) index_name += "_" + column;
        sql += " CREATE INDEX " + db_.quote_identifier(index_name + "_idx") + " ON " + name + " (" +
               column_list(index) + ");";
      }
      sql += " ANALYZE " + name + ";";
    }
    for (const auto& view : catalog_.views) {
      std::string body = view.select_sql;
      for (std::size_t at = body.find("{schema}"); at != std::string::npos; at = body.find("{schema}", at))
        body.replace(at, 8, staged);
      sql += " CREATE VIEW " + qualified(staging_, view.name) + " AS " + body + ";";
    }
    sql += grants(tables);
    sql += " COMMENT ON SCHEMA " + staged + " IS " +
           db_.quote_literal(kSchemaComment + " of " + catalog_.pipeline + " run " + run_folder) + ";";
    sql += " DROP SCHEMA IF EXISTS " + db_.quote_identifier(schema_) + " CASCADE;";
    sql += " ALTER SCHEMA " + staged + " RENAME TO " + db_.quote_identifier(schema_) + ";";
    sql += " COMMIT;";
    check_replaceable();
    db_.exec(sql, "building keys, views and grants and swapping in schema " + schema_);
    staging_.clear();
  }

  // After a failure: the staging schema is useless (the next export would drop it anyway).
  void drop_staging() noexcept {
    if (staging_.empty()) return;
    db_.abandon_copy();
    try {
      db_.exec("ROLLBACK", "rolling back");
    } catch (...) {
    }
    try {
      db_.exec("DROP SCHEMA IF EXISTS " + db_.quote_identifier(staging_) + " CASCADE", "dropping staging schema");
    } catch (...) {
    }
  }

 private:
  std::string qualified(const std::string& schema, const std::string& name) const {
    return db_.quote_identifier(schema) + "." + db_.quote_identifier(name);
  }
  std::string column_list(const std::vector<std::string>& columns) const {
    std::string list;
    for (const auto& column : columns) list += (list.empty() ? "" : ", ") + db_.quote_identifier(column);
    return list;
  }
  static std::string like_escape(const std::string& text) {
    std::string escaped;
    for (const char c : text) {
      if (c == '_' || c == '%' || c == '\\') escaped += '\\';
      escaped += c;
    }
    return escaped;
  }

  // The target schema, if it exists, must carry this command's comment: never replace a schema
  // someone else made (`public`, an application's schema).
  void check_replaceable() {
    const auto comments = db_.column(
        "SELECT coalesce(obj_description(oid, 'pg_namespace'), '') FROM pg_namespace "
        "WHERE nspname = " +
            db_.quote_literal(schema_),
        "checking schema " + schema_);
    if (!comments.empty() && !comments.front().starts_with(kSchemaComment))
      throw PgError("schema '" + schema_ + "' exists and was not made by mpilake export; choose another --schema");
  }

  // The BI role (created NOLOGIN when missing): USAGE on the schema, SELECT on the views and on the
  // non-personal columns of the tables it may see.
  std::string grants(const std::vector<const ExportTable*>& tables) {
    const std::string role = db_.quote_identifier(bi_role_);
    const bool exists =
        !db_.column("SELECT 1 FROM pg_roles WHERE rolname = " + db_.quote_literal(bi_role_), "looking up the BI role")
             .empty();
    std::string sql;
    if (!exists) sql += " CREATE ROLE " + role + " NOLOGIN;";
    sql += " GRANT USAGE ON SCHEMA " + db_.quote_identifier(staging_) + " TO " + role + ";";
    for (const ExportTable* table : tables) {
      if (!table->bi_visible) continue;
      std::vector<std::string> open;
      for (const auto& column : table->columns)
        if (!column.personal) open.push_back(column.sql_name);
      if (open.size() == table->columns.size())
        sql += " GRANT SELECT ON " + qualified(staging_, table->zone) + " TO " + role + ";";
      else
        sql += " GRANT SELECT (" + column_list(open) + ") ON " + qualified(staging_, table->zone) + " TO " + role + ";";
    }
    for (const auto& view : catalog_.views)
      sql += " GRANT SELECT ON " + qualified(staging_, view.name) + " TO " + role + ";";
    return sql;
  }

  PgConnection& db_;
  const PipelineCatalog& catalog_;
  std::string schema_;
  std::string bi_role_;
  std::string staging_;
};

}  // namespace

std::string schema_name_problem(const std::string& name) {
  if (name.empty() || name.size() > 40) return "--schema must have 1 to 40 characters (got '" + name + "')";
  for (std::size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool ok = (c >= 'a' && c <= 'z') || c == '_' || (i > 0 && c >= '0' && c <= '9');
    if (!ok) return "--schema must be lower-case letters, digits and _, not starting with a digit (got '" + name + "')";
  }
  if (name.starts_with("pg_")) return "--schema must not start with pg_ (reserved by PostgreSQL)";
  if (name.find("__load_") != std::string::npos) return "--schema must not contain __load_ (staging schemas)";
  return "";
}

ExportResult run_export(const Comm& comm, const ExportOptions& options) {
  const double started = now_seconds();
  job::Progress progress(options.progress && comm.is_root(), 5.0);
  ExportResult result;

  // Rank 0 checks the folder; everyone learns the pipeline (or stops with rank 0's error line).
  std::string pipeline;
  comm.on_root([&] {
    pipeline = run_pipeline(options.out);
    (void)check_zones(options.out, catalog_for(pipeline));
  });
  pipeline = comm.broadcast(pipeline);
  const PipelineCatalog& catalog = catalog_for(pipeline);
  const std::vector<const ExportTable*> tables = check_zones(options.out, catalog);
  result.pipeline = pipeline;
  result.schema = options.schema.empty() ? pipeline : options.schema;
  result.bi_role = options.bi_role.empty() ? result.schema + "_bi" : options.bi_role;
  if (const std::string problem = schema_name_problem(result.schema); !problem.empty()) throw ConsistentError(problem);

  // Rank 0 connects first (a bad URL or a server that is down is one line, before the others try).
  std::optional<PgConnection> connection;
  std::optional<Coordinator> coordinator;
  comm.on_root([&] {
    connection.emplace(options.conninfo, "mpilake export rank 0");
    coordinator.emplace(*connection, catalog, result.schema, result.bi_role);
    coordinator->prepare(tables, progress);
  });
  const std::string staging = comm.broadcast(comm.is_root() ? coordinator->staging() : std::string());
  try {
    std::string error;
    try {
      if (!comm.is_root()) connection.emplace(options.conninfo, "mpilake export rank " + std::to_string(comm.rank()));
      connection->exec("BEGIN", "starting the load");
    } catch (const std::exception& e) {
      error = e.what();
    }
    comm.throw_if_any(error);

    // Every rank COPYs its share of each zone into the staging tables, in one transaction.
    std::int64_t rows_sent = 0;
    ZoneLoader loader(*connection, comm, progress, options.batch_rows, rows_sent);
    for (const ExportTable* table : tables) {
      const double zone_started = now_seconds();
      LoadFigures figures;
      try {
        figures = loader.load(options.out / (table->zone + ".h5"), *table,
                              connection->quote_identifier(staging) + "." + connection->quote_identifier(table->zone));
      } catch (const std::exception& e) {
        error = e.what();
      }
      comm.throw_if_any(error);
      const std::int64_t rows = comm.allreduce_sum(figures.rows);
      const std::int64_t out_of_range = comm.allreduce_sum(figures.out_of_range);
      result.rows += rows;
      const double seconds = now_seconds() - zone_started;
      progress.line(job::printf_string("export: %s: %lld rows loaded (%.2f s, %.0f rows/s)", table->zone.c_str(),
                                       static_cast<long long>(rows), seconds, rows / std::max(seconds, 1e-9)));
      if (out_of_range > 0 && comm.is_root())
        std::fprintf(stderr,
                     "mpilake: warning: %s: %lld values outside PostgreSQL's date/timestamp range loaded as NULL\n",
                     table->zone.c_str(), static_cast<long long>(out_of_range));
    }
    try {
      connection->exec("COMMIT", "committing the load");
    } catch (const std::exception& e) {
      error = e.what();
    }
    // Every rank's part is in: only now may rank 0 swap.
    comm.throw_if_any(error);
    comm.on_root([&] { coordinator->build_and_swap(tables, fs::absolute(options.out).lexically_normal().string()); });
  } catch (...) {
    if (coordinator) coordinator->drop_staging();
    throw;
  }
  result.seconds = now_seconds() - started;
  progress.line(
      job::printf_string("export: schema %s now holds the %s run (%zu tables, %zu views, %lld rows; BI role "
                         "%s) in %.2f s",
                         result.schema.c_str(), pipeline.c_str(), tables.size(), catalog.views.size(),
                         static_cast<long long>(result.rows), result.bi_role.c_str(), result.seconds));
  return result;
}

}  // namespace mpilake::exporter
