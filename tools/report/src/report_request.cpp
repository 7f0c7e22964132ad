#include "mpilake/report/report_request.hpp"

#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <stdexcept>

#include "mpilake/deloton/schema.hpp"
#include "mpilake/h5/zone_reader.hpp"
#include "mpilake/tools/run_folder.hpp"
#include "mpilake/util/install_layout.hpp"

extern char** environ;

namespace mpilake::report {

namespace fs = std::filesystem;

namespace {

bool all_digits(std::string_view text) {
  return !text.empty() && std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
}

std::string trimmed(std::string_view text) {
  const auto first = text.find_first_not_of(" \t");
  if (first == std::string_view::npos) return {};
  const auto last = text.find_last_not_of(" \t");
  return std::string(text.substr(first, last - first + 1));
}

std::string from_environment_or(const char* name, const char* fallback) {
  const char* value = std::getenv(name);
  return value != nullptr && *value != '\0' ? value : fallback;
}

// The child must not think it is an MPI process of this job (h5py or numpy could pick that up).
bool is_mpi_launcher_variable(std::string_view entry) {
  return entry.starts_with("OMPI_") || entry.starts_with("PMIX_") || entry.starts_with("PMI_");
}

}  // namespace

bool is_calendar_date(std::string_view text) {
  if (text.size() != 10 || text[4] != '-' || text[7] != '-') return false;
  if (!all_digits(text.substr(0, 4)) || !all_digits(text.substr(5, 2)) || !all_digits(text.substr(8, 2))) return false;
  const int year = std::stoi(std::string(text.substr(0, 4)));
  const unsigned month = static_cast<unsigned>(std::stoi(std::string(text.substr(5, 2))));
  const unsigned day = static_cast<unsigned>(std::stoi(std::string(text.substr(8, 2))));
  return year >= 1 &&
         std::chrono::year_month_day(std::chrono::year(year), std::chrono::month(month), std::chrono::day(day)).ok();
}

std::optional<SmtpEndpoint> parse_smtp_url(std::string_view url) {
  SmtpEndpoint endpoint;
  std::string_view rest;
  if (url.starts_with("smtp://")) {
    rest = url.substr(7);
  } else if (url.starts_with("smtps://")) {
    rest = url.substr(8);
    endpoint.implicit_tls = true;
    endpoint.port = 465;
  } else {
    return std::nullopt;
  }
  if (rest.ends_with('/')) rest.remove_suffix(1);
  std::string_view port;
  if (rest.starts_with('[')) {  // [IPv6]:port
    const auto close = rest.find(']');
    if (close == std::string_view::npos || close == 1) return std::nullopt;
    endpoint.host = std::string(rest.substr(1, close - 1));
    if (endpoint.host.find_first_not_of("0123456789abcdefABCDEF:.") != std::string::npos) return std::nullopt;
    rest = rest.substr(close + 1);
    if (!rest.empty() && !rest.starts_with(':')) return std::nullopt;
    if (!rest.empty()) port = rest.substr(1);
    if (!rest.empty() && port.empty()) return std::nullopt;
  } else {
    const auto colon = rest.find(':');
    endpoint.host = std::string(rest.substr(0, colon));
    if (colon != std::string_view::npos) {
      port = rest.substr(colon + 1);
      if (port.empty()) return std::nullopt;
    }
    const bool host_ok = !endpoint.host.empty() && std::all_of(endpoint.host.begin(), endpoint.host.end(), [](char c) {
      return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '-';
    });
    if (!host_ok) return std::nullopt;
  }
  if (!port.empty()) {
    if (!all_digits(port) || port.size() > 5) return std::nullopt;
    endpoint.port = std::stoi(std::string(port));
    if (endpoint.port < 1 || endpoint.port > 65535) return std::nullopt;
  }
  return endpoint;
}

bool is_email_address(std::string_view text) {
  const auto at = text.find('@');
  if (at == 0 || at == std::string_view::npos || at + 1 == text.size() || text.find('@', at + 1) != text.npos)
    return false;
  return std::none_of(text.begin(), text.end(), [](char c) {
    return static_cast<unsigned char>(c) <= ' ' || c == ',' || c == '<' || c == '>' || c == '"' || c == 0x7f;
  });
}

std::vector<std::string> split_recipients(std::string_view text) {
  std::vector<std::string> parts;
  std::size_t start = 0;
  while (true) {
    const auto comma = text.find(',', start);
    parts.push_back(trimmed(text.substr(start, comma == std::string_view::npos ? text.npos : comma - start)));
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return parts;
}

fs::path default_prefix(const fs::path& out, const std::string& date) {
  return out / "reports" / ("deloton-" + date);
}

namespace {

// The run-folder reader's findings in the report's words.
std::string report_message(const fs::path& out, const tools::RunFolderError& e) {
  using Kind = tools::RunFolderError::Kind;
  switch (e.kind) {
    case Kind::no_folder: return "--out " + out.string() + ": no such folder";
    case Kind::not_a_folder: return "--out " + out.string() + " is not a folder";
    case Kind::no_summary:
    case Kind::unreadable_summary: return out.string() + " is not a finished mpilake run (it has no summary.json)";
    case Kind::invalid_summary:
    case Kind::not_an_object:
      return (out / "summary.json").string() + " is not a JSON object: not a finished mpilake run";
    case Kind::wrong_pipeline:
      return out.string() + " is not a Deloton run (summary.json says \"pipeline\": \"" +
             (e.subject.empty() ? "?" : e.subject) +
             "\"); the report needs the output of `mpilake run --pipeline deloton`";
    case Kind::missing_zone: return out.string() + " is not a finished Deloton run: " + e.subject + ".h5 is missing";
    default: return e.what();
  }
}

}  // namespace

DateRange check_deloton_run(const fs::path& out) {
  try {
    const tools::RunSummary summary = tools::read_summary(out);
    tools::require_pipeline(summary, "deloton");
    tools::require_zones(out, deloton::kZones);
  } catch (const tools::RunFolderError& e) {
    throw std::runtime_error(report_message(out, e));
  }
  const fs::path daily_path = out / "daily.h5";
  ZoneFile daily;
  try {
    daily = read_zone(daily_path);
  } catch (const std::exception& e) {
    throw std::runtime_error("cannot read " + daily_path.string() + ": " + e.what());
  }
  std::size_t date_column = daily.columns.size();
  for (std::size_t c = 0; c < daily.columns.size(); ++c)
    if (daily.columns[c].name == "date" && daily.columns[c].type == ColumnType::String) date_column = c;
  if (date_column == daily.columns.size())
    throw std::runtime_error(daily_path.string() + " has no string column 'date': not a Deloton daily zone");
  const auto& dates = daily.table.strings(date_column);
  if (daily.table.num_rows() == 0) throw std::runtime_error(out.string() + " holds no rides: no day to report on");
  DateRange range{std::string(dates[0]), std::string(dates[0])};
  for (std::size_t r = 1; r < daily.table.num_rows(); ++r) {
    range.first = std::min(range.first, std::string(dates[r]));
    range.last = std::max(range.last, std::string(dates[r]));
  }
  return range;
}

fs::path report_script() {
  const char* from_environment = std::getenv("MPILAKE_REPORT_SCRIPT");
  const fs::path script = from_environment != nullptr && *from_environment != '\0'
                              ? fs::path(from_environment)
                              : util::data_dir() / "report" / "deloton_report.py";
  std::error_code error;
  if (!fs::is_regular_file(script, error))
    throw std::runtime_error("the report generator " + script.string() +
                             " is missing (set MPILAKE_REPORT_SCRIPT to deloton_report.py)");
  return script;
}

fs::path report_python() {
  const fs::path python = from_environment_or("MPILAKE_REPORT_PYTHON", MPILAKE_REPORT_PYTHON);
  if (::access(python.c_str(), X_OK) != 0)
    throw std::runtime_error("the report needs " + python.string() +
                             " (Debian's python3 with python3-h5py, -matplotlib, -jinja2 and weasyprint)");
  return python;
}

std::vector<std::string> generator_arguments(const ReportRequest& request, const fs::path& script) {
  std::vector<std::string> args = {script.string(), "--out",    request.out.string(),   "--date",
                                   request.date,    "--prefix", request.prefix.string()};
  if (!request.smtp_url.empty()) {
    std::string recipients;
    for (const auto& recipient : request.recipients) recipients += (recipients.empty() ? "" : ",") + recipient;
    args.insert(args.end(), {"--email", request.smtp_url, "--from", request.sender, "--to", recipients});
    if (!request.tls.empty()) args.insert(args.end(), {"--tls", request.tls});
    if (!request.ca_file.empty()) args.insert(args.end(), {"--ca-file", request.ca_file.string()});
  }
  return args;
}

std::vector<std::string> generator_environment(const ReportRequest& request, char** environment) {
  std::vector<std::string> entries;
  for (char** entry = environment; entry != nullptr && *entry != nullptr; ++entry) {
    const std::string_view text = *entry;
    if (is_mpi_launcher_variable(text)) continue;
    if (request.login && (text.starts_with("MPILAKE_SMTP_USER=") || text.starts_with("MPILAKE_SMTP_PASSWORD=")))
      continue;
    entries.emplace_back(text);
  }
  if (request.login) {
    entries.push_back("MPILAKE_SMTP_USER=" + request.login->first);
    entries.push_back("MPILAKE_SMTP_PASSWORD=" + request.login->second);
  }
  return entries;
}

int run_generator(const ReportRequest& request) {
  const fs::path python = report_python();
  std::vector<std::string> args = generator_arguments(request, report_script());
  args.insert(args.begin(), python.string());
  std::vector<char*> argv;
  for (auto& arg : args) argv.push_back(arg.data());
  argv.push_back(nullptr);
  std::vector<std::string> environment = generator_environment(request, environ);
  std::vector<char*> envp;
  for (auto& entry : environment) envp.push_back(entry.data());
  envp.push_back(nullptr);

  pid_t child = 0;
  const int spawned = posix_spawn(&child, python.c_str(), nullptr, nullptr, argv.data(), envp.data());
  if (spawned != 0)
    throw std::runtime_error("cannot start " + python.string() + ": " + std::string(std::strerror(spawned)));
  int status = 0;
  while (waitpid(child, &status, 0) < 0)
    if (errno != EINTR)
      throw std::runtime_error("waiting for the report generator: " + std::string(std::strerror(errno)));
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  throw std::runtime_error("the report generator was killed by signal " + std::to_string(WTERMSIG(status)));
}

}  // namespace mpilake::report
