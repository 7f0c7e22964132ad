// `mpilake report`: Deloton's daily executive report from a finished run (tools/report/).
#include <mpi.h>

#include <chrono>
#include <thread>

#include "cli.hpp"
#include "mpilake/alerts/smtp_sender.hpp"
#include "mpilake/report/report_request.hpp"

namespace mpilake::cli {

namespace {

constexpr const char* kUsage =
    "usage: mpilake report --out DIR --date YYYY-MM-DD [--save-as FILE_PREFIX]\n"
    "                      [--email smtp://HOST:PORT --from ADDRESS --to ADDRESS[,ADDRESS...]]\n"
    "                      [--tls required|opportunistic|off] [--ca-file FILE] [--smtp-auth-file FILE]\n";
constexpr const char* kDescription =
    "Writes Deloton's daily executive report for one UTC day of a finished `mpilake run --pipeline deloton`:\n"
    "rides, riders, ride time, energy, average power, heart rate and alerts against the day before, and\n"
    "charts of riders by gender and age band, ride time by gender, power against heart rate and rides by\n"
    "hour, each with its takeaway. Counts and aggregates only: no rider's personal data. Files: a\n"
    "self-contained FILE_PREFIX.html, FILE_PREFIX.pdf and FILE_PREFIX.json (every figure shown), by default\n"
    "DIR/reports/deloton-YYYY-MM-DD.*, each written atomically. --email also sends it (HTML body, PDF\n"
    "attached; smtp:// with STARTTLS or smtps://, a login from --smtp-auth-file or MPILAKE_SMTP_USER and\n"
    "MPILAKE_SMTP_PASSWORD, never the command line). Under mpirun only rank 0 works. Exit 2: bad flags,\n"
    "not a Deloton run, or a date outside the data; exit 1: the files are written but the email failed.\n"
    "See docs/report.md.\n";

// The other ranks wait while rank 0 makes the report (seconds): a blocking collective would spin a
// core each, taken from the generator on a small machine, so they poll a non-blocking barrier.
void wait_for_root_without_spinning(const Comm& comm) {
  MPI_Request request;
  check_mpi(MPI_Ibarrier(comm.get(), &request), "MPI_Ibarrier");
  int done = 0;
  while (true) {
    check_mpi(MPI_Test(&request, &done, MPI_STATUS_IGNORE), "MPI_Test");
    if (done != 0) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

report::ReportRequest request_from(const po::variables_map& values) {
  report::ReportRequest request;
  request.out = values["out"].as<std::string>();
  request.date = values["date"].as<std::string>();
  if (!report::is_calendar_date(request.date))
    throw UsageError("--date must be a calendar date as YYYY-MM-DD (got '" + request.date + "')");
  request.prefix = values.count("save-as") != 0U ? std::filesystem::path(values["save-as"].as<std::string>())
                                                 : report::default_prefix(request.out, request.date);
  if (request.prefix.empty() || !request.prefix.has_filename())
    throw UsageError("--save-as needs a file prefix such as reports/today (got '" + request.prefix.string() + "')");
  const bool email = values.count("email") != 0U;
  if (!email && (values.count("from") != 0U || values.count("to") != 0U))
    throw UsageError("--from and --to go with --email smtp://HOST:PORT");
  const auto given = [&](const char* name) {
    return values.count(name) != 0U ? std::optional<std::string>(values[name].as<std::string>()) : std::nullopt;
  };
  if (!email && (given("tls") || given("ca-file") || given("smtp-auth-file")))
    throw UsageError("--tls, --ca-file and --smtp-auth-file go with --email");
  if (email) {
    request.smtp_url = values["email"].as<std::string>();
    if (!report::parse_smtp_url(request.smtp_url))
      throw UsageError("--email must be smtp://HOST:PORT or smtps://HOST:PORT (got '" + request.smtp_url + "')");
    try {
      const alerts::SmtpSettings settings =
          alerts::smtp_settings("--email", request.smtp_url, given("tls"), given("ca-file"), given("smtp-auth-file"));
      if (settings.tls) request.tls = std::string(alerts::tls_mode_name(*settings.tls));
      request.ca_file = settings.ca_file;
      if (settings.login) request.login = std::make_pair(settings.login->user, settings.login->password);
    } catch (const std::invalid_argument& e) {
      throw UsageError(e.what());
    }
    if (values.count("from") == 0U || values.count("to") == 0U) throw UsageError("--email needs --from and --to");
    request.sender = values["from"].as<std::string>();
    if (!report::is_email_address(request.sender))
      throw UsageError("--from needs an email address such as reports@deloton.com (got '" + request.sender + "')");
    request.recipients = report::split_recipients(values["to"].as<std::string>());
    for (const auto& recipient : request.recipients)
      if (!report::is_email_address(recipient))
        throw UsageError("--to needs email addresses separated by commas (got '" + recipient + "')");
  }
  return request;
}

int report_command(const Comm& comm, const std::vector<std::string>& args) {
  po::options_description options("options");
  // clang-format off
  options.add_options()
      ("help,h", "show this help")
      ("out", po::value<std::string>()->required(), "the finished Deloton run's output folder")
      ("date", po::value<std::string>()->required(), "the UTC day to report on, YYYY-MM-DD (inside the data)")
      ("save-as", po::value<std::string>(), "write FILE_PREFIX.html, .pdf and .json (default DIR/reports/deloton-DATE)")
      ("email", po::value<std::string>(), "also send the report through this SMTP server: smtp://HOST:PORT "
                                          "(STARTTLS) or smtps://HOST:PORT")
      ("from", po::value<std::string>(), "the email's sender address (with --email)")
      ("to", po::value<std::string>(), "the email's recipients, comma-separated (with --email)")
      ("tls", po::value<std::string>(), "STARTTLS with smtp://: required, opportunistic or off (default: required "
                                        "with a login, else opportunistic)")
      ("ca-file", po::value<std::string>(), "trust the server certificates this CA file (PEM) signs")
      ("smtp-auth-file", po::value<std::string>(), "log in with 'user = NAME' and 'password = SECRET' from this "
                                                   "file (mode 600); else MPILAKE_SMTP_USER/MPILAKE_SMTP_PASSWORD");
  // clang-format on
  po::variables_map values;
  if (!parse_command(args, options, nullptr, values, std::string(kUsage) + "\n" + kDescription, comm)) return 0;
  const report::ReportRequest request = request_from(values);
  // Rank 0 checks and works; a failed check is one error line and exit 2 on every rank.
  std::string error;
  int exit_code = 0;
  if (comm.is_root()) {
    try {
      const report::DateRange range = report::check_deloton_run(request.out);
      if (!range.contains(request.date))
        throw std::runtime_error("--date " + request.date + " is outside the data's date range " + range.first +
                                 " to " + range.last);
      report::report_script();
      exit_code = report::run_generator(request);
    } catch (const std::exception& e) {
      error = e.what();
    }
  }
  wait_for_root_without_spinning(comm);
  error = comm.broadcast(error);
  if (!error.empty()) throw ConsistentError(error);
  return std::stoi(comm.broadcast(std::to_string(exit_code)));
}

}  // namespace

ToolCli report_cli() {
  return {"report", "Deloton's daily executive report (HTML, PDF, JSON; optionally emailed) for one day of a run",
          report_command};
}

}  // namespace mpilake::cli
