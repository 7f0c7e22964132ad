#include "mpilake/job/stop_report.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstddef>
#include <ctime>
#include <string>

namespace mpilake::job {
namespace {

// Copies of the names, not pointers to them: the error line in main() and the SIGTERM handler read
// them after the job (and its StageClock, which owns the names) may have been destroyed.
constexpr std::size_t name_capacity = 128;
char stage_text[name_capacity] = {};
char last_stage_text[name_capacity] = {};
std::atomic<bool> in_stage{false};
std::atomic<bool> any_stage{false};  // a stage has been entered
volatile std::sig_atomic_t reporting = 0;
// The run's stop marker (a file in --out, on the file system every host shares), or empty.
char marker_path[4096] = {};

enum class Claim { kMine, kTaken, kUnavailable };

// Creates the marker exclusively (async-signal-safe): the one process that creates it reports.
Claim claim_report() {
  if (marker_path[0] == '\0') return Claim::kUnavailable;
  const int fd = ::open(marker_path, O_CREAT | O_EXCL | O_WRONLY, 0644);
  if (fd >= 0) {
    ::close(fd);
    return Claim::kMine;
  }
  return errno == EEXIST ? Claim::kTaken : Claim::kUnavailable;
}

void copy_name(char* to, const char* from) {
  std::size_t i = 0;
  for (; from[i] != '\0' && i + 1 < name_capacity; ++i) to[i] = from[i];
  to[i] = '\0';
}

// Appends `text` to line[0, *used) without passing `capacity` (async-signal-safe).
void append(char* line, std::size_t capacity, std::size_t* used, const char* text) {
  while (*text != '\0' && *used + 1 < capacity) line[(*used)++] = *text++;
}

void on_sigterm(int signal) {
  // Only while a job is under way: a rank that ends by itself (a usage error) may have the others
  // stopped by the launcher before any stage, with its own error line already out.
  // Every rank of the job may get SIGTERM; the first to claim the marker speaks for all, whichever
  // host was lost (rank 0 included). Rank 0 claims at once and the others only after 0.7 s (Open MPI
  // sends SIGKILL 1 s after SIGTERM), so rank 0 speaks whenever it is alive: a rank on a host whose
  // link is gone may claim first, but its line cannot reach the launcher. Without a marker (not
  // under way yet), rank 0 speaks.
  if (reporting == 0 && marker_path[0] != '\0' && any_stage.load()) {
    timespec wait = {0, 700'000'000};
    while (::nanosleep(&wait, &wait) != 0 && errno == EINTR) {
    }
  }
  const Claim claim = any_stage.load() ? claim_report() : Claim::kUnavailable;
  if (claim == Claim::kMine || (claim == Claim::kUnavailable && reporting != 0 && any_stage.load())) {
    // One write() of the whole line, so the launcher forwards it whole even as the job ends.
    char line[512];
    std::size_t used = 0;
    const char* name = current_stage();
    const char* last = last_stage_text;
    append(line, sizeof line, &used,
           "mpilake: error: the job was stopped (SIGTERM from the MPI launcher or the batch system, e.g. after a "
           "rank or a host was lost) ");
    if (name != nullptr) {
      append(line, sizeof line, &used, "in stage '");
      append(line, sizeof line, &used, name);
    } else {
      append(line, sizeof line, &used, "between stages, after stage '");
      append(line, sizeof line, &used, last);
    }
    append(line, sizeof line, &used, "'\n");
    [[maybe_unused]] const ssize_t written = ::write(STDERR_FILENO, line, used);
  }
  std::signal(signal, SIG_DFL);
  std::raise(signal);
}

}  // namespace

const char* current_stage() {
  return in_stage.load() ? stage_text : nullptr;
}

void set_current_stage(const char* name) {
  if (name == nullptr) {
    in_stage.store(false);
    return;
  }
  // Off while the text changes, so the handler never reads a half-copied name as the stage.
  in_stage.store(false);
  if (name != stage_text) copy_name(stage_text, name);
  copy_name(last_stage_text, name);
  in_stage.store(true);
  any_stage.store(true);
}

void set_stop_marker(const std::string& path) {
  std::size_t i = 0;
  for (; i < path.size() && i + 1 < sizeof marker_path; ++i) marker_path[i] = path[i];
  marker_path[i] = '\0';
}

void claim_stop_report() {
  [[maybe_unused]] const Claim claim = claim_report();
}

void report_stop_signal(bool report) {
  reporting = report ? 1 : 0;
  if (!report) marker_path[0] = '\0';
  struct sigaction action = {};
  action.sa_handler = on_sigterm;
  sigemptyset(&action.sa_mask);
  sigaction(SIGTERM, &action, nullptr);
}

}  // namespace mpilake::job
