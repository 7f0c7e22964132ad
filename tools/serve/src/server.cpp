#include "mpilake/serve/server.hpp"

#include <arpa/inet.h>
#include <httplib.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>

#include "mpilake/deloton/schema.hpp"

namespace mpilake::serve {

namespace fs = std::filesystem;

// ---------------------------------------------------------------------------------------------------
RunWatcher::RunWatcher(fs::path dir, CurrentSnapshot& current, Log log)
    : dir_(std::move(dir)), current_(current), log_(std::move(log)) {}

std::string RunWatcher::folder_state() const {
  std::string state;
  auto add = [&](const fs::path& path) {
    const FileStamp s = stamp_of(path);
    state += std::to_string(s.inode) + ":" + std::to_string(s.size) + ":" + std::to_string(s.mtime_ns) + ";";
  };
  add(dir_ / "summary.json");
  for (const auto& zone : deloton::kZones) add(dir_ / (zone + ".h5"));
  return state;
}

bool RunWatcher::poll() {
  const auto current = current_.get();
  const FileStamp summary = stamp_of(dir_ / "summary.json");
  if (current && summary == current->summary_stamp) {
    problem_.clear();
    failed_state_.clear();
    reported_missing_ = false;
    return false;
  }
  if (!summary.exists) {
    problem_ = "no summary.json (no finished run yet?)";
    // A run in progress may have removed it; keep serving what is loaded.
    if (!reported_missing_ && current)
      log_("summary.json is gone from " + dir_.string() + "; still serving run " + current->run_id);
    reported_missing_ = true;
    return false;
  }
  const std::string state = folder_state();
  if (state == failed_state_) return false;  // nothing changed since the last failed try
  const auto started = std::chrono::steady_clock::now();
  try {
    auto loaded = load_snapshot(dir_);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    current_.set(loaded);
    problem_.clear();
    failed_state_.clear();
    reported_missing_ = false;
    char figures[160];
    std::snprintf(figures, sizeof figures, " (%zu rides, %zu readings, %.1f MB) in %.2f s", loaded->rides.num_rows(),
                  loaded->readings.num_rows(), static_cast<double>(loaded->memory_bytes) / 1e6, seconds);
    log_("serving run " + loaded->run_id + figures + (current ? " (was " + current->run_id + ")" : ""));
    return true;
  } catch (const std::exception& e) {
    failed_state_ = folder_state();
    problem_ = e.what();
    log_(std::string("new run not loaded: ") + e.what() +
         (current ? "; still serving run " + current->run_id : "; nothing served yet"));
    return false;
  }
}

// ---------------------------------------------------------------------------------------------------
namespace {

std::string peer_key(const sockaddr_storage& address) {
  char text[INET6_ADDRSTRLEN] = "";
  int port = 0;
  if (address.ss_family == AF_INET) {
    const auto& v4 = reinterpret_cast<const sockaddr_in&>(address);
    inet_ntop(AF_INET, &v4.sin_addr, text, sizeof text);
    port = ntohs(v4.sin_port);
  } else if (address.ss_family == AF_INET6) {
    const auto& v6 = reinterpret_cast<const sockaddr_in6&>(address);
    inet_ntop(AF_INET6, &v6.sin6_addr, text, sizeof text);
    port = ntohs(v6.sin6_port);
  }
  return std::string(text) + ":" + std::to_string(port);
}

int port_of(const sockaddr_storage& address) {
  if (address.ss_family == AF_INET) return ntohs(reinterpret_cast<const sockaddr_in&>(address).sin_port);
  if (address.ss_family == AF_INET6) return ntohs(reinterpret_cast<const sockaddr_in6&>(address).sin6_port);
  return -1;
}

}  // namespace

void SlowClientGuard::request_started(const std::string& peer) {
  std::lock_guard lock(mutex_);
  ++peers_[peer].busy;
}

void SlowClientGuard::request_finished(const std::string& peer) {
  std::lock_guard lock(mutex_);
  State& state = peers_[peer];
  state.busy = std::max(0, state.busy - 1);
  state.idle_since = std::chrono::steady_clock::now();
}

int SlowClientGuard::sweep() {
  const auto now = std::chrono::steady_clock::now();
  int cut = 0;
  std::error_code error;
  std::lock_guard lock(mutex_);
  for (auto& [peer, state] : peers_) state.seen = false;
  // The accepted connections are this process's sockets whose local port is the server's.
  for (const auto& entry : fs::directory_iterator("/proc/self/fd", error)) {
    const int fd = std::atoi(entry.path().filename().c_str());
    struct stat info {};
    if (fstat(fd, &info) != 0 || !S_ISSOCK(info.st_mode)) continue;
    sockaddr_storage local{}, remote{};
    socklen_t local_size = sizeof local, remote_size = sizeof remote;
    if (getsockname(fd, reinterpret_cast<sockaddr*>(&local), &local_size) != 0 || port_of(local) != port_) continue;
    if (getpeername(fd, reinterpret_cast<sockaddr*>(&remote), &remote_size) != 0) continue;  // the listener
    const std::string peer = peer_key(remote);
    auto [it, fresh] = peers_.try_emplace(peer);
    State& state = it->second;
    if (fresh) state.idle_since = now;
    state.seen = true;
    if (state.busy == 0 && now - state.idle_since > limit_) {
      struct stat again {};
      // The same socket still (not a new one that took the number in between).
      if (fstat(fd, &again) == 0 && again.st_ino == info.st_ino && shutdown(fd, SHUT_RDWR) == 0) ++cut;
      state.idle_since = now;
    }
  }
  // Connections gone since the last sweep (also one whose response could not be written, which
  // never reached request_finished). request_started runs under the same lock, so a connection
  // it has seen already existed when this sweep listed the sockets.
  std::erase_if(peers_, [](const auto& item) { return !item.second.seen; });
  return cut;
}

// ---------------------------------------------------------------------------------------------------
namespace {

volatile std::sig_atomic_t stop_requested = 0;

// httplib's listen backlog is 5: too few for many clients connecting at once.
class HttpServer : public httplib::Server {
 public:
  void widen_backlog(int backlog) { ::listen(svr_sock_, backlog); }
};

bool has_body(const httplib::Request& req) {
  const auto length = req.get_header_value("Content-Length");
  return (!length.empty() && length != "0") || req.has_header("Transfer-Encoding");
}

void to_httplib(const Response& response, httplib::Response& res) {
  res.status = response.status;
  for (const auto& [name, value] : response.headers) res.set_header(name, value);
  res.set_header("X-Content-Type-Options", "nosniff");
  res.set_content(response.body, response.content_type);
}

}  // namespace

int serve(const ServeOptions& options, const Log& log) {
  const Api api(options.token, load_assets(options.chart_js));
  CurrentSnapshot current;
  RunWatcher watcher(options.dir, current, log);
  // A run may be finishing just now: give it a few seconds.
  for (int attempt = 0; attempt < 20 && !current.get(); ++attempt) {
    if (attempt > 0) std::this_thread::sleep_for(std::chrono::milliseconds(500));
    watcher.poll();
  }
  if (!current.get())
    throw std::runtime_error("no finished Deloton run to serve in " + options.dir.string() +
                             (watcher.problem().empty() ? std::string() : ": " + watcher.problem()));

  // SIGINT and SIGTERM set a flag the follower thread looks at (MPI_Init started threads before us,
  // so blocking the signals here would not cover them; a handler does).
  struct sigaction action {};
  action.sa_handler = [](int) { stop_requested = 1; };
  sigemptyset(&action.sa_mask);
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);

  HttpServer server;
  const int threads = options.threads;
  server.new_task_queue = [threads] { return new httplib::ThreadPool(static_cast<std::size_t>(threads)); };
  const auto client_timeout = static_cast<time_t>(std::max(1.0, options.client_timeout_seconds));
  server.set_read_timeout(client_timeout);
  server.set_write_timeout(client_timeout);
  server.set_keep_alive_timeout(client_timeout);
  server.set_keep_alive_max_count(10000);
  server.set_payload_max_length(1024);
  server.set_tcp_nodelay(true);

  int port = options.port;
  if (port == 0) {
    port = server.bind_to_any_port(options.bind);
    if (port < 0) throw std::runtime_error("cannot listen on " + options.bind);
  } else if (!server.bind_to_port(options.bind, port)) {
    throw std::runtime_error("cannot listen on " + options.bind + ":" + std::to_string(port) + " (in use?)");
  }
  server.widen_backlog(1024);
  SlowClientGuard guard(port, std::chrono::milliseconds(static_cast<long>(options.client_timeout_seconds * 1000)));

  const auto answer = [&](const httplib::Request& req, httplib::Response& res, bool body) {
    Request request;
    request.method = req.method;
    request.target = req.target;
    request.authorization = req.get_header_value("Authorization");
    for (const auto& [name, value] : req.headers) request.header_bytes += name.size() + value.size() + 4;
    request.has_body = body;
    const auto snapshot = current.get();  // one snapshot for the whole request
    to_httplib(api.handle(request, snapshot.get()), res);
  };
  const auto peer = [](const httplib::Request& req) { return req.remote_addr + ":" + std::to_string(req.remote_port); };
  server.set_pre_routing_handler([&](const httplib::Request& req, httplib::Response& res) {
    if (has_body(req)) return httplib::Server::HandlerResponse::Unhandled;  // read (at most 1 KB) first
    guard.request_started(peer(req));
    answer(req, res, false);
    return httplib::Server::HandlerResponse::Handled;
  });
  const auto with_body = [&](const httplib::Request& req, httplib::Response& res) {
    guard.request_started(peer(req));
    answer(req, res, true);
  };
  server.Get(".*", with_body).Post(".*", with_body).Put(".*", with_body).Patch(".*", with_body);
  server.Delete(".*", with_body).Options(".*", with_body);
  // What httplib refuses itself (a bad request line, an over-long one or header, a body over the
  // limit) gets the same JSON error shape.
  server.set_error_handler(httplib::Server::HandlerWithResponse([](const httplib::Request&, httplib::Response& res) {
    if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
    const char* message = res.status == 414   ? "the request target is too long"
                          : res.status == 413 ? "request bodies are not accepted (at most 1 KB is read)"
                          : res.status == 404 ? "no such path (see /openapi.json)"
                                              : "malformed request, unknown method, or a header line over 8 KB";
    to_httplib(error_response(res.status, message), res);
    return httplib::Server::HandlerResponse::Handled;
  }));
  server.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr) {
    to_httplib(error_response(500, "internal error"), res);
  });
  // Called once a response is written: the connection is idle again (tokens are never logged).
  server.set_logger([&](const httplib::Request& req, const httplib::Response&) {
    if (!req.remote_addr.empty()) guard.request_finished(peer(req));
  });

  std::atomic<bool> stopping = false;
  std::mutex wake_mutex;
  std::condition_variable wake;
  std::thread follower([&] {
    const auto poll_interval = std::chrono::milliseconds(static_cast<long>(options.poll_seconds * 1000));
    auto next_poll = std::chrono::steady_clock::now() + poll_interval;
    while (!stopping) {
      {
        std::unique_lock lock(wake_mutex);
        wake.wait_for(lock, std::chrono::milliseconds(250), [&] { return stopping.load(); });
      }
      if (stopping) break;
      if (stop_requested) {
        server.stop();  // again each round: a stop before listening has begun does nothing
        continue;
      }
      guard.sweep();
      if (std::chrono::steady_clock::now() >= next_poll) {
        watcher.poll();
        next_poll = std::chrono::steady_clock::now() + poll_interval;
      }
    }
  });
  const auto loaded = current.get();
  log("listening on http://" + options.bind + ":" + std::to_string(port) + "/ (run " + loaded->run_id + ", " +
      std::to_string(loaded->rides.num_rows()) + " rides, " + std::to_string(loaded->readings.num_rows()) +
      " readings; personal fields " + (options.token ? "with the bearer token" : "never served") + ")");
  const bool ok = server.listen_after_bind();
  stopping = true;
  wake.notify_all();
  follower.join();
  log("stopped");
  return ok ? 0 : 1;
}

}  // namespace mpilake::serve
