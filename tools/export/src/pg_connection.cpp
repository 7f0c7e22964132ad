#include "mpilake/export/pg_connection.hpp"

#include <cctype>

namespace mpilake::exporter {

namespace {
struct ResultCloser {
  void operator()(PGresult* result) const { PQclear(result); }
};
using Result = std::unique_ptr<PGresult, ResultCloser>;
}  // namespace

std::string one_line(std::string_view message) {
  std::string line;
  bool space = false;
  for (const char c : message) {
    if (std::isspace(static_cast<unsigned char>(c)) != 0) {
      space = !line.empty();
      continue;
    }
    if (space) line += ' ';
    space = false;
    line += c;
  }
  return line;
}

PgConnection::PgConnection(const std::string& conninfo, const std::string& application_name) {
  // expand_dbname: `dbname` holds the whole URI / conninfo; it overrides the keywords before it.
  const char* keywords[] = {"connect_timeout", "application_name", "dbname", nullptr};
  const char* values[] = {"10", application_name.c_str(), conninfo.c_str(), nullptr};
  connection_.reset(PQconnectdbParams(keywords, values, 1));
  if (!connection_) throw PgError("cannot connect to PostgreSQL: out of memory");
  if (PQstatus(connection_.get()) != CONNECTION_OK)
    throw PgError("cannot connect to PostgreSQL: " + one_line(PQerrorMessage(connection_.get())));
  // The server's NOTICEs ("schema ... does not exist, skipping") are not for the user.
  PQsetNoticeProcessor(
      connection_.get(), [](void*, const char*) {}, nullptr);
}

void PgConnection::fail(std::string_view what, std::string_view message) const {
  std::string text = one_line(message);
  if (text.empty()) text = one_line(PQerrorMessage(connection_.get()));
  throw PgError(std::string(what) + ": " + text);
}

void PgConnection::exec(const std::string& sql, std::string_view what) {
  // PQexec runs several statements; check every result (PQexec keeps only the last one).
  if (PQsendQuery(connection_.get(), sql.c_str()) == 0) fail(what, PQerrorMessage(connection_.get()));
  std::string error;
  while (PGresult* raw = PQgetResult(connection_.get())) {
    const Result result(raw);
    const auto status = PQresultStatus(raw);
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK && error.empty()) {
      error = PQresultErrorMessage(raw);
      if (error.empty()) error = "unexpected result " + std::string(PQresStatus(status));
    }
  }
  if (!error.empty()) fail(what, error);
}

std::vector<std::string> PgConnection::column(const std::string& sql, std::string_view what) {
  const Result result(PQexec(connection_.get(), sql.c_str()));
  if (!result || PQresultStatus(result.get()) != PGRES_TUPLES_OK)
    fail(what, result ? PQresultErrorMessage(result.get()) : PQerrorMessage(connection_.get()));
  std::vector<std::string> values;
  for (int row = 0; row < PQntuples(result.get()); ++row) values.emplace_back(PQgetvalue(result.get(), row, 0));
  return values;
}

void PgConnection::copy_begin(const std::string& sql, std::string_view what) {
  const Result result(PQexec(connection_.get(), sql.c_str()));
  if (!result || PQresultStatus(result.get()) != PGRES_COPY_IN)
    fail(what, result ? PQresultErrorMessage(result.get()) : PQerrorMessage(connection_.get()));
}

void PgConnection::copy_send(std::string_view bytes, std::string_view what) {
  // Blocking connection: PQputCopyData returns 1 or -1 (never 0).
  while (!bytes.empty()) {
    const std::size_t piece = std::min<std::size_t>(bytes.size(), 1 << 30);
    if (PQputCopyData(connection_.get(), bytes.data(), static_cast<int>(piece)) != 1)
      fail(what, PQerrorMessage(connection_.get()));
    bytes.remove_prefix(piece);
  }
}

void PgConnection::copy_end(std::string_view what) {
  if (PQputCopyEnd(connection_.get(), nullptr) != 1) fail(what, PQerrorMessage(connection_.get()));
  std::string error;
  while (PGresult* raw = PQgetResult(connection_.get())) {
    const Result result(raw);
    if (PQresultStatus(raw) != PGRES_COMMAND_OK && error.empty()) error = PQresultErrorMessage(raw);
  }
  if (!error.empty()) fail(what, error);
}

void PgConnection::abandon_copy() noexcept {
  if (!connection_) return;
  // In COPY state PQgetResult answers PGRES_COPY_IN until the copy is ended; a broken connection
  // may never leave it, hence the bound.
  for (int round = 0; round < 8; ++round) {
    PGresult* current = PQgetResult(connection_.get());
    if (current == nullptr) return;
    const bool copying = PQresultStatus(current) == PGRES_COPY_IN;
    PQclear(current);
    if (copying && PQputCopyEnd(connection_.get(), "mpilake export failed") != 1) return;
  }
}

std::string PgConnection::quote_identifier(std::string_view name) const {
  char* quoted = PQescapeIdentifier(connection_.get(), name.data(), name.size());
  if (quoted == nullptr) fail("quoting an identifier", PQerrorMessage(connection_.get()));
  std::string text(quoted);
  PQfreemem(quoted);
  return text;
}

std::string PgConnection::quote_literal(std::string_view text) const {
  char* quoted = PQescapeLiteral(connection_.get(), text.data(), text.size());
  if (quoted == nullptr) fail("quoting a literal", PQerrorMessage(connection_.get()));
  std::string literal(quoted);
  PQfreemem(quoted);
  return literal;
}

}  // namespace mpilake::exporter
