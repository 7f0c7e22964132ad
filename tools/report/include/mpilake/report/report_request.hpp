#pragma once
// `mpilake report`: what it is asked for, the checks made before the report generator starts (a
// finished Deloton run, a date inside its data), and the start of the generator itself
// (tools/report/deloton_report.py, which reads the zones and writes the HTML, PDF and JSON).
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mpilake::report {

struct ReportRequest {
  std::filesystem::path out;     // the finished run's output folder
  std::string date;              // YYYY-MM-DD (UTC)
  std::filesystem::path prefix;  // the files are PREFIX.html, PREFIX.pdf and PREFIX.json
  std::string smtp_url;          // empty: no email
  std::string sender;
  std::vector<std::string> recipients;
  // How the generator talks to the server (docs/report.md, "Mail servers"): the --tls mode
  // ("required", "opportunistic", "off"; empty: the default), a CA file, and the login, which reaches
  // the generator through its environment (MPILAKE_SMTP_USER / MPILAKE_SMTP_PASSWORD), never argv.
  std::string tls;
  std::filesystem::path ca_file;
  std::optional<std::pair<std::string, std::string>> login;  // user, password
};

// The first and last dates of the run's `daily` zone (YYYY-MM-DD).
struct DateRange {
  std::string first;
  std::string last;
  bool contains(const std::string& date) const { return first <= date && date <= last; }
};

struct SmtpEndpoint {
  std::string host;
  int port = 25;              // 465 for smtps://
  bool implicit_tls = false;  // smtps://
};

// YYYY-MM-DD, digits only, a day that exists.
bool is_calendar_date(std::string_view text);

// smtp://HOST[:PORT] or smtps://HOST[:PORT] (HOST a name, an IPv4 address or [IPv6]); nullopt when
// malformed.
std::optional<SmtpEndpoint> parse_smtp_url(std::string_view url);

// A plain address such as ceo@deloton.com: one @, no spaces, commas, angle brackets or quotes (so
// nothing can be smuggled into a header).
bool is_email_address(std::string_view text);

// "a,b , c" -> {"a", "b", "c"} (parts trimmed; empty parts kept as "" so they can be refused).
std::vector<std::string> split_recipients(std::string_view text);

// PREFIX when given, else OUT/reports/deloton-DATE.
std::filesystem::path default_prefix(const std::filesystem::path& out, const std::string& date);

// Checks that `out` holds a finished Deloton run (summary.json with "pipeline": "deloton" and every
// Deloton zone) and returns the dates its data covers. Throws std::runtime_error with one clear
// line otherwise (no folder, another pipeline, a zone missing, no rides at all).
DateRange check_deloton_run(const std::filesystem::path& out);

// The generator: $MPILAKE_REPORT_SCRIPT when set, else report/deloton_report.py in the data folder
// next to the binary (util::data_dir(): PREFIX/share/mpilake, or build/share/mpilake). Throws when missing.
std::filesystem::path report_script();
// The interpreter: $MPILAKE_REPORT_PYTHON when set, else /usr/bin/python3. Throws when missing.
std::filesystem::path report_python();

// The generator's command line for `request` (without the interpreter).
std::vector<std::string> generator_arguments(const ReportRequest& request, const std::filesystem::path& script);

// The generator's environment: ours without the MPI launcher's variables, with the request's login
// as MPILAKE_SMTP_USER / MPILAKE_SMTP_PASSWORD (replacing any inherited ones) when it has one.
std::vector<std::string> generator_environment(const ReportRequest& request, char** environment);

// Runs the generator (stdout and stderr go to ours) and returns its exit code; it prints its own
// error line when it fails. Throws std::runtime_error when it cannot be started or is killed.
int run_generator(const ReportRequest& request);

}  // namespace mpilake::report
