// `mpilake serve`: the public API and live dashboard over a Deloton run folder (tools/serve/,
// docs/serve.md).
#include <fstream>
#include <iostream>

#include "cli.hpp"
#include "mpilake/job/job.hpp"
#include "mpilake/serve/server.hpp"

namespace mpilake::cli {

namespace {

std::string read_token(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw UsageError("cannot read --token-file " + path);
  std::string token;
  std::getline(in, token);
  if (!token.empty() && token.back() == '\r') token.pop_back();
  if (token.size() < 16) throw UsageError("the token in --token-file must be a first line of at least 16 characters");
  for (char c : token)
    if (c <= ' ' || c == 0x7f) throw UsageError("the token in --token-file must be printable ASCII without spaces");
  return token;
}

int command_serve(const Comm& comm, const std::vector<std::string>& args) {
  serve::ServeOptions options;
  std::string out, token_file;
  po::options_description flags("options");
  // clang-format off
  flags.add_options()
      ("help,h", "show this help")
      ("out", po::value(&out)->required(), "the run folder to serve and follow (a Deloton run's --out)")
      ("bind", po::value(&options.bind)->default_value(options.bind), "address to listen on")
      ("port", po::value(&options.port)->default_value(options.port), "port to listen on (0: any free port)")
      ("token-file", po::value(&token_file),
       "file whose first line is the bearer token that unlocks personal fields (without it they are never served)")
      ("poll-interval", po::value(&options.poll_seconds)->default_value(options.poll_seconds),
       "seconds between looks at the run folder for a new run")
      ("threads", po::value(&options.threads)->default_value(options.threads), "worker threads (connections served at once)")
      ("client-timeout", po::value(&options.client_timeout_seconds)->default_value(options.client_timeout_seconds),
       "seconds a connection may stay idle or take to send its request before it is cut off")
      ("chart-js", po::value(&options.chart_js)->default_value(options.chart_js), "Chart.js to serve to the dashboard");
  // clang-format on
  po::variables_map values;
  const std::string help =
      "usage: mpilake serve --out DIR [--bind 127.0.0.1] [--port 8080] [--token-file FILE]\n\n"
      "Serves a Deloton run's zones as a read-only JSON API (/health, /rides/{id}, /rides?date=, /riders/{id},\n"
      "/riders/{id}/rides, /daily, /alerts, /live; described at /openapi.json) and a live dashboard at /.\n"
      "It follows DIR: when a new run finishes there, it loads it in the background and swaps it in whole.\n"
      "Stop it with Ctrl-C or SIGTERM. See docs/serve.md.\n";
  if (!parse_command(args, flags, nullptr, values, help, comm)) return 0;
  if (comm.size() != 1) throw UsageError("serve runs as one process (not under mpirun -np > 1)");
  if (options.port < 0 || options.port > 65535) throw UsageError("--port must be from 0 to 65535");
  if (!(options.poll_seconds >= 0.1 && options.poll_seconds <= 3600))
    throw UsageError("--poll-interval must be from 0.1 to 3600 seconds");
  if (options.threads < 2 || options.threads > 1024) throw UsageError("--threads must be from 2 to 1024");
  if (!(options.client_timeout_seconds >= 1 && options.client_timeout_seconds <= 600))
    throw UsageError("--client-timeout must be from 1 to 600 seconds");
  options.dir = out;
  if (!std::filesystem::is_directory(options.dir)) throw UsageError("--out " + out + " is not a folder");
  if (values.count("token-file") != 0U) options.token = read_token(token_file);
  const auto log = [](const std::string& line) {
    std::cerr << job::utc_now() << " mpilake serve: " << line << std::endl;
  };
  try {
    return serve::serve(options, log);
  } catch (const std::runtime_error& e) {
    throw UsageError(e.what());
  }
}

}  // namespace

ToolCli serve_cli() {
  return {"serve", "serve a Deloton run as a JSON API and a live dashboard, following new runs", command_serve};
}

}  // namespace mpilake::cli
