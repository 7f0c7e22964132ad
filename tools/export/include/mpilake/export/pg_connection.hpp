#pragma once
// A small checked wrapper over one libpq connection: commands, single-column queries, COPY FROM
// STDIN, identifier quoting. Every failure is a PgError with libpq's message folded into one line.
#include <libpq-fe.h>

#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace mpilake::exporter {

class PgError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// libpq's messages span lines ("...failed: Connection refused\n\tIs the server running..."): one
// line, runs of whitespace as one space, no trailing space.
std::string one_line(std::string_view message);

class PgConnection {
 public:
  // `conninfo`: a postgresql:// URI or a "key=value ..." string. Connects with a 10 s connect
  // timeout (the URI may set another) and `application_name`.
  PgConnection(const std::string& conninfo, const std::string& application_name);
  PgConnection(PgConnection&&) noexcept = default;
  PgConnection& operator=(PgConnection&&) noexcept = default;

  // Runs one or more statements that return no rows; throws PgError naming `what`.
  void exec(const std::string& sql, std::string_view what);
  // Runs a query and returns the first column of every row (NULL as "").
  std::vector<std::string> column(const std::string& sql, std::string_view what);

  // COPY ... FROM STDIN: start it, send bytes (any split), end it and check the server's answer.
  void copy_begin(const std::string& sql, std::string_view what);
  void copy_send(std::string_view bytes, std::string_view what);
  void copy_end(std::string_view what);
  // Ends a COPY in progress with an error (its rows are discarded), if one is; never throws.
  void abandon_copy() noexcept;

  std::string quote_identifier(std::string_view name) const;
  std::string quote_literal(std::string_view text) const;

 private:
  struct Closer {
    void operator()(PGconn* connection) const { PQfinish(connection); }
  };
  std::unique_ptr<PGconn, Closer> connection_;
  [[noreturn]] void fail(std::string_view what, std::string_view message) const;
};

}  // namespace mpilake::exporter
