// `mpilake alerts`: heart-rate alert emails from a finished Deloton run (tools/alerts, docs/alerts.md).
#include <stdexcept>

#include "cli.hpp"
#include "mpilake/alerts/alerts.hpp"
#include "mpilake/alerts/smtp_sender.hpp"

namespace mpilake::cli {

namespace {

const char* const kUsage =
    "usage: mpilake alerts --out DIR [--from ADDRESS] [--send smtp://HOST:PORT --from ADDRESS] [--quiet]\n";
const char* const kDescription =
    "Writes one ready-to-send email (RFC 5322, text/plain UTF-8) per row of DIR/heart_rate_alerts.h5 into\n"
    "DIR/alerts_outbox/alert-<ride_id>.eml: to the rider's email, greeting by first name, the heart rate,\n"
    "the rider's safe range, the time of the ride and advice to stop, rest and see a doctor. Alerts without a\n"
    "usable email address are skipped (state.json says why). With --send it then delivers the queued ones\n"
    "over SMTP (libcurl), recording each in DIR/alerts_outbox/delivered.log before sending the next: a rerun\n"
    "sends only what is left, and an alert is never sent twice (docs/alerts.md). Rank 0 does the work.\n"
    "Exit code: 0 done, 1 a delivery failed (the rest stay queued; rerun), 2 bad input.\n";

int alerts(const Comm& comm, const std::vector<std::string>& args) {
  std::string out, send, from;
  po::options_description options("options");
  // clang-format off
  options.add_options()
      ("help,h", "show this help")
      ("out", po::value(&out)->required(), "a finished Deloton run's output folder")
      ("send", po::value(&send), "deliver the queued messages to this SMTP server: smtp://HOST:PORT (needs --from)")
      ("from", po::value(&from), "sender, ADDRESS or \"NAME <ADDRESS>\" (default when only writing: "
                                 "\"Deloton Health <alerts@deloton.invalid>\")")
      ("quiet,q", "no progress lines on stderr (the final line is still printed)");
  // clang-format on
  po::variables_map values;
  if (!parse_command(args, options, nullptr, values, std::string(kUsage) + "\n" + kDescription, comm)) return 0;
  alerts::AlertsOptions request;
  request.out = out;
  request.progress = values.count("quiet") == 0U;
  if (values.count("send") != 0U) {
    try {
      alerts::check_smtp_url(send);
    } catch (const std::invalid_argument& e) {
      throw UsageError("--send '" + send + "': " + e.what());
    }
    if (values.count("from") == 0U) throw UsageError("--send needs --from ADDRESS (the sender of the emails)");
    request.send_url = send;
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
