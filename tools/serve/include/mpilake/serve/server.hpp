#pragma once
// `mpilake serve` behind HTTP (cpp-httplib): the run folder followed by a watcher that swaps in each
// new run whole, a thread pool, and a guard that cuts off slow clients.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>

#include "mpilake/serve/api.hpp"
#include "mpilake/serve/snapshot.hpp"

namespace mpilake::serve {

using Log = std::function<void(const std::string&)>;

// The snapshot requests read: swapped whole, read with one atomic load per request.
class CurrentSnapshot {
 public:
  std::shared_ptr<const Snapshot> get() const { return std::atomic_load(&snapshot_); }
  void set(std::shared_ptr<const Snapshot> snapshot) { std::atomic_store(&snapshot_, std::move(snapshot)); }

 private:
  std::shared_ptr<const Snapshot> snapshot_;
};

// Follows a run folder: when summary.json is replaced (a run finished), loads the new run and swaps
// it in. A load that fails (zones of another run, a file being written) keeps the old snapshot, logs
// one line, and is tried again when any of the folder's files changes.
class RunWatcher {
 public:
  RunWatcher(std::filesystem::path dir, CurrentSnapshot& current, Log log);
  // One look at the folder; returns true when a new snapshot was swapped in.
  bool poll();
  // Why the last look loaded nothing ("" when it did, or when nothing was new).
  const std::string& problem() const { return problem_; }

 private:
  std::string folder_state() const;  // summary.json's and the zones' stamps, as text

  std::filesystem::path dir_;
  CurrentSnapshot& current_;
  Log log_;
  std::string failed_state_;  // the folder state of the last failed load ("" when none)
  std::string problem_;
  bool reported_missing_ = false;
};

// Cuts off connections that are idle or still sending their request (headers or body) after a
// time limit, so slow clients (slowloris) cannot hold the worker threads. A request counts as busy
// from when its headers are complete until its response is written.
class SlowClientGuard {
 public:
  SlowClientGuard(int port, std::chrono::milliseconds limit) : port_(port), limit_(limit) {}
  void request_started(const std::string& peer);
  void request_finished(const std::string& peer);
  // Looks at this process's sockets on `port` and shuts down the overdue ones; returns how many.
  int sweep();

 private:
  struct State {
    std::chrono::steady_clock::time_point idle_since;
    int busy = 0;
    bool seen = false;
  };
  int port_;
  std::chrono::milliseconds limit_;
  std::mutex mutex_;
  std::unordered_map<std::string, State> peers_;
};

struct ServeOptions {
  std::filesystem::path dir;
  std::string bind = "127.0.0.1";
  int port = 8080;  // 0: any free port
  std::optional<std::string> token;
  std::string chart_js = "/usr/share/javascript/chart.js/chart.min.js";
  double poll_seconds = 1.0;
  int threads = 64;
  double client_timeout_seconds = 5.0;
};

// Loads the run (waiting up to 10 s for one to finish), serves until SIGINT or SIGTERM.
// Throws std::runtime_error with a one-line reason when it cannot start.
int serve(const ServeOptions& options, const Log& log);

}  // namespace mpilake::serve
