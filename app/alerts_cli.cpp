// `mpilake alerts`: heart-rate alert emails from a finished Deloton run (tools/alerts, docs/alerts.md).
#include <stdexcept>

#include "cli.hpp"
#include "mpilake/alerts/alerts.hpp"
#include "mpilake/alerts/smtp_sender.hpp"

namespace mpilake::cli {

namespace {

const char* const kUsage =
    "usage: mpilake alerts --out DIR [--from ADDRESS] [--send smtp://HOST:PORT --from ADDRESS] [--quiet]\n"
    "                      [--tls required|opportunistic|off] [--ca-file FILE] [--smtp-auth-file FILE]\n"
    "                      [--retries N] [--retry-delay SECONDS]\n";
const char* const kDescription =
    "Writes one ready-to-send email (RFC 5322, text/plain UTF-8) per row of DIR/heart_rate_alerts.h5 into\n"
    "DIR/alerts_outbox/alert-<ride_id>.eml: to the rider's email, greeting by first name, the heart rate,\n"
    "the rider's safe range, the time of the ride and advice to stop, rest and see a doctor. Alerts without a\n"
    "usable email address are skipped (state.json says why). With --send it then delivers the queued ones\n"
    "over SMTP (libcurl), recording each in DIR/alerts_outbox/delivered.log before sending the next: a rerun\n"
    "sends only what is left, and an alert is never sent twice (docs/alerts.md). Rank 0 does the work.\n"
    "A message the server refuses for good (5xx) goes to DIR/alerts_dead_letter.jsonl and the rest go on;\n"
    "temporary failures are retried (--retries, --retry-delay doubling) and stay queued. The login comes from\n"
    "--smtp-auth-file or MPILAKE_SMTP_USER/MPILAKE_SMTP_PASSWORD, never from the command line.\n"
    "Exit code: 0 done, 1 a delivery failed (the rest stay queued; rerun), 2 bad input.\n";

int alerts(const Comm& comm, const std::vector<std::string>& args) {
  std::string out, send, from;
  int retries = 2;
  double retry_delay = 1.0;
  po::options_description options("options");
  // clang-format off
  options.add_options()
      ("help,h", "show this help")
      ("out", po::value(&out)->required(), "a finished Deloton run's output folder")
      ("send", po::value(&send), "deliver the queued messages to this SMTP server: smtp://HOST:PORT "
                                     "(STARTTLS) or smtps://HOST:PORT (needs --from)")
      ("from", po::value(&from), "sender, ADDRESS or \"NAME <ADDRESS>\" (default when only writing: "
                                 "\"Deloton Health <alerts@deloton.invalid>\")")
      ("tls", po::value<std::string>(), "STARTTLS with smtp://: required, opportunistic or off (default: required "
                                        "with a login, else opportunistic)")
      ("ca-file", po::value<std::string>(), "trust the server certificates this CA file (PEM) signs")
      ("smtp-auth-file", po::value<std::string>(), "log in with 'user = NAME' and 'password = SECRET' from this "
                                                   "file (mode 600); else MPILAKE_SMTP_USER/MPILAKE_SMTP_PASSWORD")
      ("retries", po::value(&retries), "retries of a temporary failure per message (default 2)")
      ("retry-delay", po::value(&retry_delay), "seconds before the first retry, doubled each time (default 1)")
      ("quiet,q", "no progress lines on stderr (the final line is still printed)");
  // clang-format on
  po::variables_map values;
  if (!parse_command(args, options, nullptr, values, std::string(kUsage) + "\n" + kDescription, comm)) return 0;
  alerts::AlertsOptions request;
  request.out = out;
  request.progress = values.count("quiet") == 0U;
  if (retries < 0 || retries > 20) throw UsageError("--retries must be 0 to 20");
  if (!(retry_delay >= 0 && retry_delay <= 60)) throw UsageError("--retry-delay must be 0 to 60 seconds");
  request.retries = retries;
  request.retry_delay_s = retry_delay;
  const auto given = [&](const char* name) {
    return values.count(name) != 0U ? std::optional<std::string>(values[name].as<std::string>()) : std::nullopt;
  };
  if (values.count("send") != 0U) {
    try {
      request.send = alerts::smtp_settings("--send", send, given("tls"), given("ca-file"), given("smtp-auth-file"));
    } catch (const std::invalid_argument& e) {
      throw UsageError(e.what());
    }
    if (values.count("from") == 0U) throw UsageError("--send needs --from ADDRESS (the sender of the emails)");
  } else if (given("tls") || given("ca-file") || given("smtp-auth-file")) {
    throw UsageError("--tls, --ca-file and --smtp-auth-file go with --send");
  }
  if (values.count("from") != 0U) {
    try {
      request.from = alerts::parse_mailbox(from);
    } catch (const std::invalid_argument& e) {
      throw UsageError("--from: " + std::string(e.what()));
    }
  }
  return alerts::run_alerts(comm, request);
}

}  // namespace

ToolCli alerts_cli() {
  return ToolCli{"alerts", "heart-rate alert emails of a Deloton run: outbox, and SMTP delivery exactly once", alerts};
}

}  // namespace mpilake::cli
