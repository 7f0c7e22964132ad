#include "cli.hpp"

#include <iostream>

namespace mpilake::cli {

bool parse_command(const std::vector<std::string>& args, const po::options_description& options,
                   const po::positional_options_description* positional, po::variables_map& values,
                   const std::string& help, const Comm& comm) {
  try {
    // No guessing: `--rule` must not silently mean `--rules`.
    const int style = po::command_line_style::default_style & ~po::command_line_style::allow_guessing;
    const po::positional_options_description none;
    po::store(po::command_line_parser(args)
                  .options(options)
                  .positional(positional != nullptr ? *positional : none)
                  .style(style)
                  .run(),
              values);
    if (values.count("help") != 0U) {
      if (comm.is_root()) std::cout << help << "\n" << options << std::flush;
      return false;
    }
    po::notify(values);
  } catch (const po::too_many_positional_options_error&) {
    std::string stray;
    for (const auto& arg : args)
      if (!arg.starts_with('-')) stray = arg;
    throw UsageError("unexpected argument" + (stray.empty() ? std::string() : " '" + stray + "'") + " (see --help)");
  } catch (const po::error& e) {
    throw UsageError(std::string(e.what()) + " (see --help)");
  }
  return true;
}

namespace {

// The bytes `text` gives (a number, optionally with K, M, G or T and an optional B), or -1.
std::int64_t parse_size(const std::string& text) {
  std::size_t end = 0;
  double value = -1;
  try {
    value = std::stod(text, &end);
  } catch (...) {
    end = 0;
  }
  std::string unit = text.substr(end);
  if (!unit.empty() && (unit.back() == 'B' || unit.back() == 'b')) unit.pop_back();
  double scale = 0;
  if (unit.empty())
    scale = 1;
  else if (unit == "K" || unit == "k")
    scale = 1024.0;
  else if (unit == "M" || unit == "m")
    scale = 1024.0 * 1024;
  else if (unit == "G" || unit == "g")
    scale = 1024.0 * 1024 * 1024;
  else if (unit == "T" || unit == "t")
    scale = 1024.0 * 1024 * 1024 * 1024;
  if (end == 0 || scale == 0 || !(value >= 0) || value * scale > 9e18) return -1;
  return static_cast<std::int64_t>(value * scale);
}

}  // namespace

std::int64_t parse_memory_limit(const std::string& text) {
  if (text == "auto") return -1;
  if (text == "off") return 0;
  const std::int64_t bytes = parse_size(text);
  if (bytes <= 0)
    throw UsageError("--memory-limit must be auto, off, or a size such as 512M or 16G (got '" + text + "')");
  return bytes;
}

std::int64_t parse_byte_count(const std::string& text, const std::string& option) {
  const std::int64_t bytes = parse_size(text);
  if (bytes < 0)
    throw UsageError(option + " must be a number of bytes such as 2500000000, 2.5e9 or 2G (got '" + text + "')");
  return bytes;
}

const std::vector<PipelineCli>& pipelines() {
  static const std::vector<PipelineCli> registered = {stedi_cli(), deloton_cli()};
  return registered;
}

const std::vector<ToolCli>& tools() {
  // One entry per tool, e.g. report_cli() (declared in cli.hpp, defined in app/report_cli.cpp).
  static const std::vector<ToolCli> registered = {report_cli(), alerts_cli(), export_cli(), serve_cli()};
  return registered;
}

std::string pipeline_names() {
  std::string names;
  for (const auto& pipeline : pipelines()) names += (names.empty() ? "" : "|") + pipeline.name;
  return names;
}

const PipelineCli& pipeline_from(const std::vector<std::string>& args) {
  std::string name = pipelines().front().name;
  for (std::size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--pipeline") {
      if (i + 1 >= args.size()) throw UsageError("--pipeline needs a name (" + pipeline_names() + ")");
      name = args[i + 1];
    } else if (args[i].starts_with("--pipeline=")) {
      name = args[i].substr(std::string("--pipeline=").size());
    }
  }
  for (const auto& pipeline : pipelines())
    if (pipeline.name == name) return pipeline;
  throw UsageError("unknown --pipeline '" + name + "' (expected " + pipeline_names() + ")");
}

}  // namespace mpilake::cli
