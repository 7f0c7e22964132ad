// The floor of the mpilake benchmark: the fastest plain simdjson On-Demand pass over the landing files.
//
// It does what mpilake's parse stage must do at the least, and nothing else: read every landing file
// of the three STEDI sources (sized with fstat, read in 1 MB batches cut at the last newline, with
// SIMDJSON_PADDING bytes after each batch, buffers reused) and parse each line with On-Demand,
// extracting every field of the schema in DESIGN.md into local accumulators (sums and xors, so the
// compiler cannot drop the work). No tables, no quarantine, no validation beyond what simdjson does
// while reading the values it is asked for. One process, one core: mpilake's parse MB/s per rank is
// compared with this.
//
// The data quirks of the generated landing data are handled, since a floor that fails on them would
// not be a floor: a UTF-8 BOM, CRLF, blank lines, no final newline, keys in any order, unknown keys
// (skipped), `timeStamp` for `timestamp`, integers written as integral floats or decimal strings,
// the phone written as a number, and null values.
//
// usage: simdjson_floor LANDING_DIR [--pipeline stedi|deloton] [--mode many|lines] [--repeat N] [--batch-bytes B]
//   --pipeline deloton  the Deloton landing: every file of LANDING_DIR/deloton/ and its stream
//                       sub-folders, each line's `log` string extracted (unescaped) by simdjson, then
//                       every field the pipeline uses taken from it by a plain scan (timestamp, bike,
//                       kind, duration, resistance, hrt, rpm, power) and a ride start's user JSON by
//                       simdjson (issue 21's floor)
//   --mode many   (default) one parser.iterate_many() per batch: stage 1 once per batch, then each
//                 document; the fastest way simdjson 3.0 reads NDJSON, so this is the floor.
//   --mode lines  one parser.iterate() per line, as mpilake's RecordParser does (information).
// prints `RESULT floor_key=value` lines (the best of N passes) and a one-line human summary.
#include <fcntl.h>
#include <simdjson.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace {

namespace od = simdjson::ondemand;

// The On-Demand kernel this file was compiled for (chosen by the compiler flags, not at run time;
// simdjson::builtin_implementation() would name the shared library's own build instead).
#define FLOOR_STRINGIFY_(x) #x
#define FLOOR_STRINGIFY(x) FLOOR_STRINGIFY_(x)
constexpr const char* kOnDemandKernel = FLOOR_STRINGIFY(SIMDJSON_BUILTIN_IMPLEMENTATION);

struct Accumulators {
  std::uint64_t lines = 0;
  std::uint64_t failed = 0;  // lines simdjson could not read (none in generated data without --bad-line-rate)
  std::uint64_t string_bytes = 0;
  std::uint64_t string_hash = 0;
  std::int64_t int_sum = 0;
  double float_sum = 0;
  std::uint64_t nulls = 0;
};

// A value where the schema wants a string (phone may be a JSON number: its text is taken).
inline bool take_string(od::value value, Accumulators& acc) {
  std::string_view text;
  if (value.get_string().get(text) == simdjson::SUCCESS) {
    acc.string_bytes += text.size();
    if (!text.empty()) acc.string_hash ^= static_cast<unsigned char>(text.front()) * 131u + text.size();
    return true;
  }
  if (value.is_null()) return ++acc.nulls, true;
  std::string_view raw = value.raw_json_token();  // a number where a string is expected
  acc.string_bytes += raw.size();
  return !raw.empty();
}

// A value where the schema wants an int64 (epoch ms, distance): integer, integral float, digits, null.
inline bool take_int(od::value value, Accumulators& acc) {
  std::int64_t integer = 0;
  if (value.get_int64().get(integer) == simdjson::SUCCESS) return acc.int_sum += integer, true;
  double real = 0;
  if (value.get_double().get(real) == simdjson::SUCCESS) return acc.int_sum += static_cast<std::int64_t>(real), true;
  std::string_view text;
  if (value.get_string().get(text) == simdjson::SUCCESS) {
    if (text.empty()) return ++acc.nulls, true;
    const auto result = std::from_chars(text.data(), text.data() + text.size(), integer);
    if (result.ec != std::errc()) return false;
    return acc.int_sum += integer, true;
  }
  if (value.is_null()) return ++acc.nulls, true;
  return false;
}

inline bool take_double(od::value value, Accumulators& acc) {
  double real = 0;
  if (value.get_double().get(real) == simdjson::SUCCESS) return acc.float_sum += real, true;
  if (value.is_null()) return ++acc.nulls, true;
  return false;
}

enum class Source { customer, accelerometer, step_trainer, deloton };

// The digits at p (as many as there are), their value added into `value`; p moves past them.
inline std::int64_t scan_digits(const char*& p, const char* end) {
  std::int64_t value = 0;
  while (p < end && static_cast<unsigned char>(*p - '0') < 10) value = value * 10 + (*p++ - '0');
  return value;
}

// A plain decimal at p: digits, optionally '.' and digits (what the feed writes); p moves past it.
inline double scan_decimal(const char*& p, const char* end) {
  const char* const start = p;
  std::int64_t mantissa = scan_digits(p, end);
  if (p < end && *p == '.') {
    const char* const fraction = ++p;
    const std::int64_t digits = scan_digits(p, end);
    constexpr double kPowers[] = {1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15};
    const std::ptrdiff_t count = p - fraction;
    if (count <= 15) {
      double scale = kPowers[count];
      std::int64_t whole = mantissa;
      for (std::ptrdiff_t i = 0; i < count; ++i) whole *= 10;
      return static_cast<double>(whole + digits) / scale;
    }
    double result = 0;
    std::from_chars(start, p, result);
    return result;
  }
  return static_cast<double>(mantissa);
}

// The user JSON of a ride start, every field the pipeline reads, by simdjson (a second parser: the
// record's document is still open).
bool take_user_json(std::string_view json, Accumulators& acc) {
  static od::parser parser;
  static std::string padded;
  padded.assign(json);
  padded.resize(json.size() + simdjson::SIMDJSON_PADDING);
  od::document document;
  od::object object;
  if (parser.iterate(padded.data(), json.size(), padded.size()).get(document) != simdjson::SUCCESS ||
      document.get_object().get(object) != simdjson::SUCCESS)
    return false;
  for (auto field_result : object) {
    od::field field;
    if (std::move(field_result).get(field) != simdjson::SUCCESS) return false;
    std::string_view key;
    if (field.unescaped_key().get(key) != simdjson::SUCCESS) return false;
    od::value value = field.value();
    bool ok = true;
    if (key == "user_id" || key == "date_of_birth" || key == "height_cm" || key == "weight_kg" ||
        key == "account_create_date")
      ok = take_int(value, acc);
    else if (key == "name" || key == "gender" || key == "address" || key == "email_address" || key == "bike_serial" ||
             key == "original_source")
      ok = take_string(value, acc);
    if (!ok) return false;
  }
  return true;
}

// Every field of one Deloton log text the pipeline uses, by the plainest scan: the timestamp as µs,
// the bike, the kind and its numbers (duration, resistance; hrt, rpm, power), a ride start's user
// JSON (above). Markers and other texts are only counted.
bool scan_deloton_log(std::string_view text, Accumulators& acc) {
  const char* p = text.data();
  const char* const end = p + text.size();
  if (text.size() < 21 || p[4] != '-' || p[10] != ' ') return ++acc.nulls, true;  // a text marker
  const auto two = [&](int at) { return (p[at] - '0') * 10 + (p[at + 1] - '0'); };
  const std::int64_t year = (p[0] - '0') * 1000 + (p[1] - '0') * 100 + (p[2] - '0') * 10 + (p[3] - '0');
  std::int64_t micros = ((((year * 12 + two(5)) * 31 + two(8)) * 24 + two(11)) * 60 + two(14)) * 60 + two(17);
  const char* q = p + 19;
  if (q < end && *q == '.') {
    ++q;
    micros = micros * 1000000 + scan_digits(q, end);
  }
  acc.int_sum += micros;
  const char* const bike = ++q;  // after the space
  while (q + 1 < end && !(q[0] == ':' && q[1] == ' ')) ++q;
  acc.string_bytes += static_cast<std::uint64_t>(q - bike);
  q += 2;
  const std::string_view rest(q, static_cast<std::size_t>(end - q));
  if (rest.starts_with("[INFO]: Ride - duration = ")) {
    q += 26;
    acc.float_sum += scan_decimal(q, end);
    q += 15;  // "; resistance = "
    acc.int_sum += scan_digits(q, end);
  } else if (rest.starts_with("[INFO]: Telemetry - hrt = ")) {
    q += 26;
    acc.int_sum += scan_digits(q, end);
    q += 8;  // "; rpm = "
    acc.int_sum += scan_digits(q, end);
    q += 10;  // "; power = "
    acc.float_sum += scan_decimal(q, end);
  } else if (rest.starts_with("[SYSTEM] data = ")) {
    return take_user_json(rest.substr(16), acc);
  } else {
    ++acc.nulls;
  }
  return true;
}

// Extracts the fields of one record; unknown keys are skipped by On-Demand.
bool parse_record(Source source, od::object object, Accumulators& acc) {
  for (auto field_result : object) {
    od::field field;
    if (std::move(field_result).get(field) != simdjson::SUCCESS) return false;
    std::string_view key;
    if (field.unescaped_key().get(key) != simdjson::SUCCESS) return false;
    od::value value = field.value();
    bool ok = true;
    switch (source) {
      case Source::accelerometer:
        if (key == "user")
          ok = take_string(value, acc);
        else if (key == "timestamp" || key == "timeStamp")
          ok = take_int(value, acc);
        else if (key == "x" || key == "y" || key == "z")
          ok = take_double(value, acc);
        break;
      case Source::step_trainer:
        if (key == "sensorReadingTime" || key == "distanceFromObject")
          ok = take_int(value, acc);
        else if (key == "serialNumber")
          ok = take_string(value, acc);
        break;
      case Source::deloton:  // {"log": "<log line>"}: the log text, unescaped, and every field in it
        if (key == "log") {
          std::string_view text;
          ok = value.get_string().get(text) == simdjson::SUCCESS && scan_deloton_log(text, acc);
        }
        break;
      case Source::customer:
        if (key == "customerName" || key == "email" || key == "phone" || key == "birthDay" || key == "serialNumber")
          ok = take_string(value, acc);
        else if (key == "registrationDate" || key == "lastUpdateDate" || key == "shareWithResearchAsOfDate" ||
                 key == "shareWithPublicAsOfDate" || key == "shareWithFriendsAsOfDate")
          ok = take_int(value, acc);
        break;
    }
    if (!ok) return false;
  }
  return true;
}

struct FileResult {
  std::uint64_t bytes = 0;
  double read_seconds = 0;
};

double now_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// Reads one file in `batch` byte reads, cut at the last newline, and parses every line.
enum class Mode { many, lines };

FileResult parse_file(const std::string& path, Source source, Mode mode, std::size_t batch, std::vector<char>& buffer,
                      od::parser& parser, Accumulators& acc) {
  FileResult result;
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw std::runtime_error("cannot open " + path + ": " + std::strerror(errno));
  struct stat info {};
  if (::fstat(fd, &info) != 0) throw std::runtime_error("cannot stat " + path);
  const auto file_size = static_cast<std::uint64_t>(info.st_size);

  std::size_t filled = 0;  // bytes in buffer (a carried-over partial line first)
  std::uint64_t offset = 0;
  bool first_batch = true;
  const auto parse_line = [&](const char* begin, std::size_t length, std::size_t capacity) {
    while (length > 0 && (begin[length - 1] == '\r' || begin[length - 1] == ' ')) --length;
    if (length == 0) return;
    ++acc.lines;
    od::document document;
    od::object object;
    if (parser.iterate(begin, length, capacity).get(document) != simdjson::SUCCESS ||
        document.get_object().get(object) != simdjson::SUCCESS || !parse_record(source, object, acc))
      ++acc.failed;
  };
  while (offset < file_size || filled > 0) {
    // Make room: a batch plus padding after whatever was carried over (a line longer than the
    // buffer grows it).
    if (buffer.size() < filled + batch + simdjson::SIMDJSON_PADDING)
      buffer.resize(filled + batch + simdjson::SIMDJSON_PADDING);
    std::size_t got = 0;
    if (offset < file_size) {
      const double start = now_seconds();
      const std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(batch, file_size - offset));
      while (got < want) {
        const ssize_t n = ::pread(fd, buffer.data() + filled + got, want - got, static_cast<off_t>(offset + got));
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) throw std::runtime_error("cannot read " + path);
        got += static_cast<std::size_t>(n);
      }
      result.read_seconds += now_seconds() - start;
      offset += got;
    }
    const std::size_t end = filled + got;
    const bool last = offset >= file_size;
    // Complete lines end at the last newline; at the end of the file the rest is a line too.
    std::size_t complete = end;
    if (!last) {
      const void* newline = ::memrchr(buffer.data(), '\n', end);
      complete =
          newline == nullptr ? 0 : static_cast<std::size_t>(static_cast<const char*>(newline) - buffer.data()) + 1;
    }
    std::memset(buffer.data() + end, 0, simdjson::SIMDJSON_PADDING);
    std::size_t position = 0;
    if (first_batch && complete >= 3 && std::memcmp(buffer.data(), "\xEF\xBB\xBF", 3) == 0) position = 3;
    first_batch = false;
    if (mode == Mode::many) {
      // One stage-1 pass over the whole batch (batch_size >= its length, so no look-ahead thread),
      // then each document in turn.
      if (complete > position) {
        const std::size_t length = complete - position;
        od::document_stream stream;
        if (parser.iterate_many(buffer.data() + position, length, std::max<std::size_t>(length, 1024)).get(stream) !=
            simdjson::SUCCESS) {
          ++acc.failed;
        } else {
          for (auto document_result : stream) {
            ++acc.lines;
            od::document_reference document;
            od::object object;
            if (std::move(document_result).get(document) != simdjson::SUCCESS ||
                document.get_object().get(object) != simdjson::SUCCESS || !parse_record(source, object, acc)) {
              ++acc.failed;
              break;  // a broken document may leave the stream unusable: generated data has none
            }
          }
        }
      }
    } else {
      while (position < complete) {
        const char* begin = buffer.data() + position;
        const char* newline = static_cast<const char*>(std::memchr(begin, '\n', complete - position));
        const std::size_t length = newline == nullptr ? complete - position : static_cast<std::size_t>(newline - begin);
        // Readable bytes after the line's start: the rest of the batch plus the padding.
        parse_line(begin, length, end + simdjson::SIMDJSON_PADDING - position);
        position += length + 1;
      }
    }
    if (last) break;
    // Carry the partial last line to the front.
    filled = end - complete;
    if (filled > 0) std::memmove(buffer.data(), buffer.data() + complete, filled);
  }
  ::close(fd);
  result.bytes = file_size;
  return result;
}

std::vector<std::string> list_files(const std::filesystem::path& folder) {
  std::vector<std::string> files;
  for (const auto& entry : std::filesystem::directory_iterator(folder)) {
    const std::string name = entry.path().filename().string();
    if (name.empty() || name[0] == '.' || !entry.is_regular_file()) continue;
    files.push_back(entry.path().string());
  }
  std::sort(files.begin(), files.end());
  return files;
}

[[noreturn]] void usage(const char* message) {
  std::fprintf(stderr,
               "simdjson_floor: %s\nusage: simdjson_floor LANDING_DIR [--pipeline stedi|deloton] [--mode many|lines] "
               "[--repeat N] "
               "[--batch-bytes B]\n",
               message);
  std::exit(2);
}

}  // namespace

int main(int argc, char** argv) {
  std::string landing;
  int repeat = 1;
  std::size_t batch = std::size_t{1} << 20;
  Mode mode = Mode::many;
  bool deloton = false;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--pipeline" && i + 1 < argc) {
      const std::string value = argv[++i];
      if (value != "stedi" && value != "deloton") usage("--pipeline takes stedi or deloton");
      deloton = value == "deloton";
      continue;
    }
    if (arg == "--repeat" && i + 1 < argc) {
      repeat = std::max(1, std::atoi(argv[++i]));
    } else if (arg == "--batch-bytes" && i + 1 < argc) {
      batch = static_cast<std::size_t>(std::max(4096LL, std::atoll(argv[++i])));
    } else if (arg == "--mode" && i + 1 < argc) {
      const std::string value = argv[++i];
      if (value != "many" && value != "lines") usage("--mode takes many or lines");
      mode = value == "many" ? Mode::many : Mode::lines;
    } else if (arg == "--help" || arg == "-h") {
      usage("the simdjson-only floor of the mpilake benchmark");
    } else if (landing.empty() && !arg.starts_with("--")) {
      landing = arg;
    } else {
      usage(("unexpected argument " + arg).c_str());
    }
  }
  if (landing.empty()) usage("no landing folder");

  const std::pair<const char*, Source> sources[] = {{"customer", Source::customer},
                                                    {"accelerometer", Source::accelerometer},
                                                    {"step_trainer", Source::step_trainer},
                                                    {"deloton", Source::deloton}};
  std::vector<std::pair<std::string, Source>> files;
  try {
    if (deloton) {
      const std::filesystem::path top = std::filesystem::path(landing) / "deloton";
      for (auto& path : list_files(top)) files.emplace_back(std::move(path), Source::deloton);
      std::vector<std::filesystem::path> streams;
      for (const auto& entry : std::filesystem::directory_iterator(top))
        if (entry.is_directory() && !entry.path().filename().string().starts_with('.')) streams.push_back(entry.path());
      std::sort(streams.begin(), streams.end());
      for (const auto& stream : streams)
        for (auto& path : list_files(stream)) files.emplace_back(std::move(path), Source::deloton);
    } else {
      for (int s = 0; s < 3; ++s)
        for (auto& path : list_files(std::filesystem::path(landing) / sources[s].first))
          files.emplace_back(std::move(path), sources[s].second);
    }
  } catch (const std::exception& error) {
    std::fprintf(stderr, "simdjson_floor: %s\n", error.what());
    return 2;
  }

  od::parser parser;
  std::vector<char> buffer;
  double best = 0, best_read = 0;
  std::uint64_t bytes = 0;
  double source_seconds[4] = {0, 0, 0, 0}, best_source_seconds[4] = {0, 0, 0, 0};
  std::uint64_t source_bytes[4] = {0, 0, 0, 0};
  Accumulators acc;
  for (int pass = 0; pass < repeat; ++pass) {
    acc = Accumulators{};
    bytes = 0;
    double read_seconds = 0;
    const double start = now_seconds();
    try {
      for (double& seconds : source_seconds) seconds = 0;
      for (const auto& [path, source] : files) {
        const double file_start = now_seconds();
        const FileResult result = parse_file(path, source, mode, batch, buffer, parser, acc);
        source_seconds[static_cast<int>(source)] += now_seconds() - file_start;
        if (pass == 0) source_bytes[static_cast<int>(source)] += result.bytes;
        bytes += result.bytes;
        read_seconds += result.read_seconds;
      }
    } catch (const std::exception& error) {
      std::fprintf(stderr, "simdjson_floor: %s\n", error.what());
      return 1;
    }
    const double seconds = now_seconds() - start;
    if (pass == 0 || seconds < best) {
      best = seconds;
      best_read = read_seconds;
      std::copy(std::begin(source_seconds), std::end(source_seconds), std::begin(best_source_seconds));
    }
  }
  const double mb_per_s = best > 0 ? static_cast<double>(bytes) / 1e6 / best : 0;
  std::printf("RESULT floor_mode=%s\n", mode == Mode::many ? "iterate_many" : "iterate_per_line");
  std::printf("RESULT floor_files=%zu\n", files.size());
  std::printf("RESULT floor_bytes=%llu\n", static_cast<unsigned long long>(bytes));
  std::printf("RESULT floor_lines=%llu\n", static_cast<unsigned long long>(acc.lines));
  std::printf("RESULT floor_failed_lines=%llu\n", static_cast<unsigned long long>(acc.failed));
  std::printf("RESULT floor_seconds=%.6f\n", best);
  std::printf("RESULT floor_read_seconds=%.6f\n", best_read);
  std::printf("RESULT floor_mb_per_s=%.3f\n", mb_per_s);
  std::printf("RESULT floor_parse_only_mb_per_s=%.3f\n",
              best > best_read ? static_cast<double>(bytes) / 1e6 / (best - best_read) : 0.0);
  for (int s = deloton ? 3 : 0; s < (deloton ? 4 : 3); ++s)
    std::printf("RESULT floor_%s_mb_per_s=%.3f\n", sources[s].first,
                best_source_seconds[s] > 0 ? static_cast<double>(source_bytes[s]) / 1e6 / best_source_seconds[s] : 0.0);
  std::printf("RESULT floor_kernel=%s\n", kOnDemandKernel);
  std::printf(
      "RESULT floor_checksum=%llx\n",
      static_cast<unsigned long long>(acc.string_bytes ^ acc.string_hash ^ static_cast<std::uint64_t>(acc.int_sum) ^
                                      static_cast<std::uint64_t>(acc.float_sum * 1000) ^ acc.nulls));
  std::fprintf(stderr, "simdjson floor: %.1f MB in %.3f s = %.1f MB/s (%llu lines, best of %d, read %.3f s)\n",
               static_cast<double>(bytes) / 1e6, best, mb_per_s, static_cast<unsigned long long>(acc.lines), repeat,
               best_read);
  return 0;
}
