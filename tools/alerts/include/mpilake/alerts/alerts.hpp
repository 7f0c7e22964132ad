#pragma once
// `mpilake alerts`: one email per row of a finished Deloton run's heart_rate_alerts, written to
// DIR/alerts_outbox/ and, with --send, delivered over SMTP exactly once across reruns and crashes
// (docs/alerts.md has the outbox format and the argument).
#include <filesystem>
#include <optional>
#include <string>

#include "mpilake/alerts/message.hpp"
#include "mpilake/alerts/smtp_sender.hpp"
#include "mpilake/mpi/comm.hpp"

namespace mpilake::alerts {

struct AlertsOptions {
  std::filesystem::path out;         // the run's output folder
  std::optional<SmtpSettings> send;  // smtp://HOST:PORT or smtps://: deliver what is queued
  // A temporary failure (4xx, a dropped connection, no connection) is retried this many times,
  // after retry_delay_s, then twice that, ... (at most 60 s a wait), before the run stops.
  int retries = 2;
  double retry_delay_s = 1.0;
  Mailbox from{"Deloton Health", "alerts@deloton.invalid"};
  bool progress = true;  // "sent n of N" lines on stderr
};

// Thrown (on rank 0) when the folder is not a finished Deloton run or the outbox cannot be used:
// one line, exit code 2.
class AlertsInputError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Collective; rank 0 does the work, the other ranks wait. Prints progress on stderr and the counts
// (or one error line) from rank 0, and returns the exit code on every rank: 0 done (alerts refused
// for good go to DIR/alerts_dead_letter.jsonl), 1 a delivery failed for now or the session was
// refused (the rest stay queued), 2 bad input.
int run_alerts(const Comm& comm, const AlertsOptions& options);

// Test hook: with MPILAKE_ALERTS_CRASH_AFTER=k in the environment, the process ends at once with
// _exit(kCrashHookExitCode) right after it recorded its k-th delivery (tests/e2e/test_alerts.py);
// with MPILAKE_ALERTS_CRASH_AFTER_DEAD_LETTER=k, right after its k-th dead letter, before the .eml
// moves (tests/e2e/test_mail_relays.py).
inline constexpr int kCrashHookExitCode = 86;

}  // namespace mpilake::alerts
