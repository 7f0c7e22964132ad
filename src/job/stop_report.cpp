#include "mpilake/job/stop_report.hpp"

#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstddef>

namespace mpilake::job {
namespace {

std::atomic<const char*> stage{nullptr};
std::atomic<const char*> last_stage{nullptr};  // the latest stage entered
volatile std::sig_atomic_t reporting = 0;

// Appends `text` to line[0, *used) without passing `capacity` (async-signal-safe).
void append(char* line, std::size_t capacity, std::size_t* used, const char* text) {
  while (*text != '\0' && *used + 1 < capacity) line[(*used)++] = *text++;
}

void on_sigterm(int signal) {
  // Only while a job is under way: a rank that ends by itself (a usage error) may have the others
  // stopped by the launcher before any stage, with its own error line already out.
  if (reporting != 0 && last_stage.load() != nullptr) {
    // One write() of the whole line, so the launcher forwards it whole even as the job ends.
    char line[512];
    std::size_t used = 0;
    const char* name = stage.load();
    const char* last = last_stage.load();
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
  return stage.load();
}

void set_current_stage(const char* name) {
  stage.store(name);
  if (name != nullptr) last_stage.store(name);
}

void report_stop_signal(bool report) {
  reporting = report ? 1 : 0;
  struct sigaction action = {};
  action.sa_handler = on_sigterm;
  sigemptyset(&action.sa_mask);
  sigaction(SIGTERM, &action, nullptr);
}

}  // namespace mpilake::job
