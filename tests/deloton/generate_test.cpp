// Tests of the synthetic Deloton landing generator's pure parts (no MPI needed): determinism and
// independence of the files, the line grammar of DELOTON.md, time order, the planted messiness
// (mid-ride start, re-sent lines, rides across midnight and files, heart-rate runs), the planted
// bad lines, and the power function against the real samples.
#include "mpilake/deloton/generate.hpp"

#include <gtest/gtest.h>
#include <simdjson.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

namespace mpilake::deloton {
namespace {

GenerateOptions small_options() {
  GenerateOptions options;
  options.bikes = 12;
  options.days = 2;
  options.streams = 3;
  options.seed = 42;
  return options;
}

std::vector<std::string_view> lines_of(std::string_view text) {
  std::vector<std::string_view> lines;
  while (!text.empty()) {
    const std::size_t newline = text.find('\n');
    lines.push_back(text.substr(0, newline));
    if (newline == std::string_view::npos) break;
    text.remove_prefix(newline + 1);
  }
  return lines;
}

// The files of one stream, in file-name order, as one text.
std::string stream_text(const GenerateOptions& options, std::int64_t stream) {
  std::string text;
  for (std::int64_t window = 0; window < window_count(options); ++window) {
    text += generate_file(options, stream, window).text;
  }
  return text;
}

// The bike of a timestamped record, by plain string search ("" for the markers).
std::string_view bike_of(std::string_view record) {
  const std::size_t start = record.find(' ', 20);  // after {"log": "YYYY-MM-DD HH:MM
  const std::size_t end = record.find(": ", start);
  if (start == std::string_view::npos || end == std::string_view::npos || record.find("---------") == 9) return {};
  return record.substr(start + 1, end - start - 1);
}

// ---- A small reader of the feed's grammar (DELOTON.md), independent of the generator ----

enum class Kind { main_marker, ride_marker, getting_user_data, system, ride, telemetry, invalid };

struct Line {
  Kind kind = Kind::invalid;
  std::int64_t time = 0;  // us since the epoch
  std::string bike;
  std::int64_t duration = 0, resistance = 0, heart_rate = 0, rpm = 0;
  std::string power, user_json;
};

// The log text of an NDJSON record {"log": "<text>\n"}, unescaped; nullopt when it is not one.
std::optional<std::string> log_text(std::string_view record) {
  constexpr std::string_view kHead = "{\"log\": \"", kTail = "\\n\"}";
  if (!record.starts_with(kHead) || !record.ends_with(kTail)) return std::nullopt;
  const std::string_view inner = record.substr(kHead.size(), record.size() - kHead.size() - kTail.size());
  std::string text;
  for (std::size_t i = 0; i < inner.size(); ++i) {
    if (inner[i] == '"') return std::nullopt;
    if (inner[i] != '\\') {
      text.push_back(inner[i]);
      continue;
    }
    if (++i == inner.size() || (inner[i] != '"' && inner[i] != '\\')) return std::nullopt;
    text.push_back(inner[i]);
  }
  return text;
}

std::optional<std::int64_t> parse_time(std::string_view text) {
  static const std::regex kPattern(R"((\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})\.(\d{6}))");
  std::match_results<std::string_view::const_iterator> match;
  if (!std::regex_match(text.begin(), text.end(), match, kPattern)) return std::nullopt;
  const auto field = [&](int i) { return std::stoi(match[i].str()); };
  const std::chrono::year_month_day date{std::chrono::year(field(1)), std::chrono::month(field(2)),
                                         std::chrono::day(field(3))};
  if (!date.ok() || field(4) > 23 || field(5) > 59 || field(6) > 59) return std::nullopt;
  const std::int64_t days = std::chrono::sys_days(date).time_since_epoch().count();
  return ((days * 24 + field(4)) * 60 + field(5)) * 60 * 1000000 + std::int64_t{field(6)} * 1000000 +
         std::stoll(match[7].str());
}

bool is_integer(std::string_view text) {
  return !text.empty() && std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
}

bool is_number(std::string_view text) {  // JSON's grammar (without exponent: the feed has none)
  static const std::regex kNumber(R"(-?(0|[1-9][0-9]*)(\.[0-9]+)?)");
  return std::regex_match(text.begin(), text.end(), kNumber);
}

Line parse_line(std::string_view record) {
  Line line;
  const auto text = log_text(record);
  if (!text) return line;
  if (*text == "--------- beginning of main") {
    line.kind = Kind::main_marker;
    return line;
  }
  if (*text == "--------- beginning of a new ride") {
    line.kind = Kind::ride_marker;
    return line;
  }
  const std::size_t second_space = text->find(' ', text->find(' ') + 1);
  const std::size_t bike_end = text->find(": ");
  if (second_space == std::string::npos || bike_end == std::string::npos || bike_end <= second_space + 1) return line;
  const auto time = parse_time(std::string_view(*text).substr(0, second_space));
  if (!time) return line;
  line.time = *time;
  line.bike = text->substr(second_space + 1, bike_end - second_space - 1);
  const std::string body = text->substr(bike_end + 2);
  static const std::regex kRide(R"(\[INFO\]: Ride - duration = ([^;]*)\.0; resistance = (.*))");
  static const std::regex kTelemetry(R"(\[INFO\]: Telemetry - hrt = ([^;]*); rpm = ([^;]*); power = (.*))");
  std::smatch match;
  if (body == "Getting user data from server..") {
    line.kind = Kind::getting_user_data;
  } else if (body.starts_with("[SYSTEM] data = ")) {
    line.user_json = body.substr(16);
    line.kind = Kind::system;
  } else if (std::regex_match(body, match, kRide) && is_integer(match[1].str()) && is_integer(match[2].str())) {
    line.duration = std::stoll(match[1].str());
    line.resistance = std::stoll(match[2].str());
    line.kind = Kind::ride;
  } else if (std::regex_match(body, match, kTelemetry) && is_integer(match[1].str()) && is_integer(match[2].str()) &&
             is_number(match[3].str()) && !match[3].str().starts_with('-')) {
    line.heart_rate = std::stoll(match[1].str());
    line.rpm = std::stoll(match[2].str());
    line.power = match[3].str();
    line.kind = Kind::telemetry;
  }
  return line;
}

// The user JSON fields the tests look at; nullopt unless an object with the 11 keys of the feed in
// its order (gender may be missing: an odd gender of the generator's).
struct User {
  std::int64_t user_id = 0, date_of_birth = 0;
  std::string name, gender, address, email;
  bool gender_missing = false;
};

std::optional<User> parse_user(const std::string& json) {
  static simdjson::dom::parser parser;
  simdjson::dom::element element;
  if (parser.parse(json).get(element) != simdjson::SUCCESS || !element.is_object()) return std::nullopt;
  const simdjson::dom::object object = element.get_object().value();
  static constexpr std::string_view kKeys[] = {"user_id",     "name",           "gender",
                                               "address",     "date_of_birth",  "email_address",
                                               "height_cm",   "weight_kg",      "account_create_date",
                                               "bike_serial", "original_source"};
  std::size_t index = 0;
  User user;
  for (const auto field : object) {
    if (index < std::size(kKeys) && kKeys[index] == "gender" && field.key != "gender") {
      user.gender_missing = true;
      ++index;
    }
    if (index >= std::size(kKeys) || field.key != kKeys[index]) return std::nullopt;
    ++index;
  }
  if (index != std::size(kKeys)) return std::nullopt;
  std::string_view text;
  if (object["user_id"].get_int64().get(user.user_id) != simdjson::SUCCESS) return std::nullopt;
  if (object["date_of_birth"].get_int64().get(user.date_of_birth) != simdjson::SUCCESS) return std::nullopt;
  std::int64_t number = 0;
  for (const char* key : {"height_cm", "weight_kg", "account_create_date"}) {
    if (object[key].get_int64().get(number) != simdjson::SUCCESS) return std::nullopt;
  }
  const auto string_field = [&](const char* key, std::string& out) {
    if (object[key].get_string().get(text) != simdjson::SUCCESS) return false;
    out = std::string(text);
    return true;
  };
  std::string serial, source;
  if (!string_field("name", user.name) || (!user.gender_missing && !string_field("gender", user.gender)) ||
      !string_field("address", user.address) || !string_field("email_address", user.email) ||
      !string_field("bike_serial", serial) || !string_field("original_source", source))
    return std::nullopt;
  return user;
}

std::int64_t floor_div(std::int64_t value, std::int64_t divisor) {
  return value / divisor - (value % divisor != 0 && (value < 0) != (divisor < 0));
}

// Heart-rate limits and age as DELOTON.md defines them (written here independently).
int age_on(std::int64_t birth_ms, std::int64_t time_us) {
  using namespace std::chrono;
  const year_month_day birth{sys_days(days(floor_div(birth_ms, 86400000)))};
  const year_month_day on{sys_days(days(floor_div(time_us, 86400000000LL)))};
  int age = static_cast<int>(on.year()) - static_cast<int>(birth.year());
  if (on.month() < birth.month() || (on.month() == birth.month() && on.day() < birth.day())) --age;
  return age;
}

std::pair<int, int> limits(const std::string& gender, int age) {
  const bool male = gender == "male";
  const auto upper = static_cast<int>(male ? (age < 40 ? 220 - age : floor_div(2085 - 7 * age, 10))
                                           : floor_div(20650 - 88 * age, 100));
  const int band = age < 40 ? 0 : (age < 65 ? 1 : 2);
  const int lower = male ? std::array{40, 47, 52}[band] : std::array{45, 52, 57}[band];
  return {lower, upper};
}

// ---- Rides rebuilt from a stream, the way DELOTON.md reads them (clean sets only) ----

struct RebuiltRide {
  std::string bike;
  std::int64_t start = 0;
  std::size_t first_file = 0, last_file = 0;
  std::optional<User> user;
  std::vector<std::pair<std::int64_t, std::int64_t>> readings;  // (time, heart rate)
};

struct RebuiltStream {
  std::vector<RebuiltRide> rides;
  std::int64_t orphans = 0, duplicates = 0, readings = 0;
};

RebuiltStream rebuild(const std::vector<std::string>& files) {
  RebuiltStream out;
  struct BikeState {
    int ride = -1;
    std::set<std::pair<int, std::int64_t>> seen;
    std::optional<std::int64_t> pending;
  };
  std::map<std::string, BikeState> bikes;
  for (std::size_t file = 0; file < files.size(); ++file) {
    for (const auto record : lines_of(files[file])) {
      const Line line = parse_line(record);
      if (line.kind != Kind::system && line.kind != Kind::ride && line.kind != Kind::telemetry) continue;
      BikeState& bike = bikes[line.bike];
      if (line.kind == Kind::system) {
        if (bike.ride >= 0 && out.rides[static_cast<std::size_t>(bike.ride)].start == line.time) {
          ++out.duplicates;
          continue;
        }
        bike.ride = static_cast<int>(out.rides.size());
        bike.seen.clear();
        bike.pending.reset();
        out.rides.push_back({line.bike, line.time, file, file, parse_user(line.user_json), {}});
        continue;
      }
      if (bike.ride < 0) {
        ++out.orphans;
        continue;
      }
      if (!bike.seen.insert({static_cast<int>(line.kind), line.time}).second) {
        ++out.duplicates;
        continue;
      }
      RebuiltRide& ride = out.rides[static_cast<std::size_t>(bike.ride)];
      ride.last_file = file;
      if (line.kind == Kind::ride) {
        bike.pending = line.time;
      } else if (bike.pending) {
        ride.readings.emplace_back(*bike.pending, line.heart_rate);
        bike.pending.reset();
        ++out.readings;
      }
    }
  }
  return out;
}

// Runs of abnormal heart rates per ride: the longest run, and whether a run of exactly 2 and a
// pair of runs broken by hrt = 0 occur.
struct RunSummary {
  bool alerts = false, alert_high = false, has_pair = false, has_broken_run = false;
};

RunSummary runs_of(const RebuiltRide& ride) {
  RunSummary summary;
  if (!ride.user) return summary;
  const auto [lower, upper] = limits(ride.user->gender, age_on(ride.user->date_of_birth, ride.start));
  int run = 0, run_before_zero = 0;
  for (const auto& [time, heart_rate] : ride.readings) {
    if (heart_rate == 0) {
      run_before_zero = run;
      run = 0;
      continue;
    }
    const bool abnormal = heart_rate < lower || heart_rate > upper;
    if (abnormal) {
      ++run;
      if (run == 3 && !summary.alerts) {
        summary.alerts = true;
        summary.alert_high = heart_rate > upper;
      }
      if (run == 2 && run_before_zero == 2) summary.has_broken_run = true;
    } else {
      if (run == 2) summary.has_pair = true;
      run = 0;
      run_before_zero = 0;
    }
  }
  return summary;
}

// ---- Tests ----

TEST(DelotonGenerateFile, SameOptionsGiveSameBytes) {
  const GenerateOptions options = small_options();
  const GeneratedFile first = generate_file(options, 1, 2);
  EXPECT_GT(first.text.size(), 100000U);
  EXPECT_EQ(first.text, generate_file(options, 1, 2).text);
  GenerateOptions other_seed = options;
  other_seed.seed = 43;
  EXPECT_NE(first.text, generate_file(other_seed, 1, 2).text);
}

TEST(DelotonGenerateFile, StatsCountWhatIsWritten) {
  const GeneratedFile file = generate_file(small_options(), 0, 1);
  EXPECT_EQ(file.stats.bytes, static_cast<std::int64_t>(file.text.size()));
  EXPECT_EQ(file.stats.lines, static_cast<std::int64_t>(std::count(file.text.begin(), file.text.end(), '\n')));
  EXPECT_TRUE(file.text.ends_with('\n'));
  EXPECT_GT(file.stats.readings, 1000);
  EXPECT_EQ(file.stats.bad_lines(), 0);
}

TEST(DelotonGenerateFile, FilesAreCutFromOneStreamWhateverTheWindow) {
  // Every value depends on (seed, bike, ride, line) alone, so a stream cut into 6-hour files, into
  // daily files or into 5-hour files reads as the same sequence of lines.
  GenerateOptions six_hours = small_options();
  six_hours.bad_line_rate = 0.01;
  GenerateOptions daily = six_hours, five_hours = six_hours;
  daily.hours_per_file = 24;
  five_hours.hours_per_file = 5;
  for (std::int64_t stream = 0; stream < six_hours.streams; ++stream) {
    const std::string text = stream_text(six_hours, stream);
    EXPECT_EQ(text, stream_text(daily, stream)) << "stream " << stream;
    EXPECT_EQ(text, stream_text(five_hours, stream)) << "stream " << stream;
  }
}

TEST(DelotonGenerateFile, BikeDataDoesNotDependOnTheOtherBikes) {
  // Adding bikes to the fleet adds lines to the streams but changes no line of the existing bikes
  // (bikes 0..11 keep their streams when the fleet grows by a multiple of the stream count).
  GenerateOptions small = small_options();
  GenerateOptions large = small;
  large.bikes = 24;
  large.riders = small.bikes * 3;  // the same rider pool
  const std::set<std::string> names = [&] {
    std::set<std::string> set;
    for (std::int64_t bike = 0; bike < small.bikes; ++bike) set.insert(bike_name(bike));
    return set;
  }();
  for (std::int64_t stream = 0; stream < small.streams; ++stream) {
    std::vector<std::string_view> kept;
    const std::string large_text = stream_text(large, stream);
    for (const auto record : lines_of(large_text)) {
      // Markers name no bike: leave them out.
      if (names.count(std::string(bike_of(record))) != 0) kept.push_back(record);
    }
    std::vector<std::string_view> expected;
    const std::string small_text = stream_text(small, stream);
    for (const auto record : lines_of(small_text)) {
      if (!bike_of(record).empty()) expected.push_back(record);
    }
    ASSERT_GT(expected.size(), 10000U);
    EXPECT_EQ(kept, expected) << "stream " << stream;
  }
}

TEST(DelotonGenerateSize, TargetBytesChoosesTheDays) {
  GenerateOptions options = small_options();
  EXPECT_EQ(resolve_days(options), options.days);
  options.target_bytes = 40'000'000;
  options.days = resolve_days(options);
  EXPECT_GE(options.days, 2);
  std::int64_t bytes = 0;
  for (std::int64_t stream = 0; stream < options.streams; ++stream) {
    for (std::int64_t window = 0; window < window_count(options); ++window) {
      bytes += generate_file(options, stream, window).stats.bytes;
    }
  }
  // Whole days: within half a day's bytes (and the estimate's error) of the target.
  const double per_day = static_cast<double>(bytes) / static_cast<double>(options.days);
  EXPECT_NEAR(static_cast<double>(bytes), 40e6, 0.5 * per_day + 0.1 * 40e6);
}

TEST(DelotonGenerateLayout, NamesAndPaths) {
  GenerateOptions options = small_options();
  options.out = "/land";
  EXPECT_EQ(window_count(options), 8);
  EXPECT_EQ(file_count(options), 24);
  EXPECT_EQ(file_path(options, 2, 7), std::filesystem::path("/land/deloton/partition=2/deloton+2+0000000007.json"));
  options.root_stream = true;
  EXPECT_EQ(stream_folder(options, 0), "");
  EXPECT_EQ(file_path(options, 0, 3), std::filesystem::path("/land/deloton/deloton+0+0000000003.json"));
  EXPECT_EQ(stream_folder(options, 1), "partition=1");
  options.hours_per_file = 5;
  EXPECT_EQ(window_count(options), 10);  // the last window is shorter

  EXPECT_EQ(bike_name(0), "mendoza v9");
  std::set<std::string> names;
  static const std::regex kBike(R"([a-z]+ v[0-9])");
  for (std::int64_t bike = 0; bike < max_bikes(); ++bike) {
    const std::string name = bike_name(bike);
    ASSERT_TRUE(std::regex_match(name, kBike)) << name;
    names.insert(name);
  }
  EXPECT_EQ(static_cast<std::int64_t>(names.size()), max_bikes());
  EXPECT_GE(max_bikes(), 10000);
}

TEST(DelotonGenerateLayout, RejectsInvalidOptions) {
  const auto invalid = [](auto change) {
    GenerateOptions options = small_options();
    change(options);
    return options;
  };
  EXPECT_THROW(validate(invalid([](GenerateOptions& o) { o.bikes = 0; })), std::invalid_argument);
  EXPECT_THROW(validate(invalid([](GenerateOptions& o) { o.bikes = max_bikes() + 1; })), std::invalid_argument);
  EXPECT_THROW(validate(invalid([](GenerateOptions& o) { o.days = 0; })), std::invalid_argument);
  EXPECT_THROW(validate(invalid([](GenerateOptions& o) { o.streams = 0; })), std::invalid_argument);
  EXPECT_THROW(validate(invalid([](GenerateOptions& o) { o.bad_line_rate = 1.5; })), std::invalid_argument);
  EXPECT_THROW(validate(invalid([](GenerateOptions& o) { o.start_date = "2022-02-30"; })), std::invalid_argument);
  EXPECT_THROW(validate(invalid([](GenerateOptions& o) { o.start_date = "1.10.2022"; })), std::invalid_argument);
  EXPECT_THROW(validate(invalid([](GenerateOptions& o) { o.hours_per_file = 0; })), std::invalid_argument);
  EXPECT_THROW(generate_file(small_options(), 3, 0), std::invalid_argument);
  EXPECT_THROW(generate_file(small_options(), 0, 8), std::invalid_argument);
  EXPECT_NO_THROW(validate(small_options()));
}

TEST(DelotonGenerateGrammar, EveryLineOfACleanSetParses) {
  const GenerateOptions options = small_options();
  std::int64_t checked = 0;
  std::set<Kind> kinds;
  for (std::int64_t stream = 0; stream < options.streams; ++stream) {
    const std::string text = stream_text(options, stream);
    std::map<std::string, std::int64_t> resistance;  // of each bike's last ride line
    std::set<std::string_view> seen;
    for (const auto record : lines_of(text)) {
      const Line line = parse_line(record);
      if (!seen.insert(record).second) continue;  // a re-sent line
      ASSERT_NE(line.kind, Kind::invalid) << record;
      kinds.insert(line.kind);
      ++checked;
      if (line.kind == Kind::system) {
        ASSERT_TRUE(parse_user(line.user_json).has_value()) << line.user_json;
      }
      if (line.kind == Kind::ride) {
        EXPECT_GE(line.duration, 1);
        EXPECT_LE(line.duration, 2000);
        EXPECT_LE(line.resistance, 200);
        resistance[line.bike] = line.resistance;
      }
      if (line.kind == Kind::telemetry) {
        EXPECT_LE(line.heart_rate, 230);
        EXPECT_LE(line.rpm, 200);
        // Power is a function of (resistance, rpm), as in the real feed.
        if (resistance.count(line.bike) != 0) {
          EXPECT_EQ(line.power, power_text(resistance[line.bike], line.rpm));
        }
      }
    }
  }
  EXPECT_GT(checked, 100000);
  EXPECT_EQ(kinds.size(), 6U);  // all six shapes occur
}

TEST(DelotonGenerateOrder, LinesAreInTimeOrderPerBikeAndStream) {
  const GenerateOptions options = small_options();
  for (std::int64_t stream = 0; stream < options.streams; ++stream) {
    const std::string text = stream_text(options, stream);
    std::map<std::string, std::int64_t> last_time;
    std::set<std::string_view> seen;
    std::int64_t stream_time = 0, resent = 0;
    for (const auto record : lines_of(text)) {
      const Line line = parse_line(record);
      if (line.kind == Kind::main_marker || line.kind == Kind::ride_marker) continue;
      if (!seen.insert(record).second) {  // a re-sent line: its older time is expected
        ++resent;
        continue;
      }
      auto [at, first] = last_time.emplace(line.bike, line.time);
      if (!first) {
        EXPECT_GT(line.time, at->second) << record;
        at->second = line.time;
      }
      EXPECT_GE(line.time, stream_time) << record;
      stream_time = line.time;
    }
    EXPECT_GT(last_time.size(), 2U) << "several bikes per stream";
    EXPECT_GT(resent, 0) << "stream " << stream;
  }
}

TEST(DelotonGenerateFeatures, PlantedMessinessIsThere) {
  GenerateOptions options = small_options();
  options.bikes = 30;
  std::int64_t across_midnight = 0, across_files = 0, alerting = 0, alerting_high = 0, pairs = 0, broken = 0;
  std::int64_t planted_alerts = 0;
  std::int64_t duplicates = 0, planted_duplicates = 0, readings = 0, planted_readings = 0, orphans = 0;
  std::map<std::int64_t, std::set<std::string>> details_by_user;
  std::map<std::int64_t, int> rides_per_user;
  for (std::int64_t stream = 0; stream < options.streams; ++stream) {
    std::vector<std::string> files;
    for (std::int64_t window = 0; window < window_count(options); ++window) {
      GeneratedFile file = generate_file(options, stream, window);
      planted_alerts += file.stats.alert_rides;
      planted_duplicates += file.stats.duplicates;
      planted_readings += file.stats.readings;
      files.push_back(std::move(file.text));
    }
    // The dump begins inside rides: INFO lines before the bike's first ride start.
    const Line first = parse_line(lines_of(files.front()).front());
    EXPECT_TRUE(first.kind == Kind::ride || first.kind == Kind::telemetry) << "stream " << stream;

    const RebuiltStream rebuilt = rebuild(files);
    EXPECT_GT(rebuilt.orphans, 0) << "stream " << stream;
    orphans += rebuilt.orphans;
    duplicates += rebuilt.duplicates;
    readings += rebuilt.readings;
    for (const RebuiltRide& ride : rebuilt.rides) {
      ASSERT_TRUE(ride.user.has_value());
      details_by_user[ride.user->user_id].insert(ride.user->address + ride.user->email);
      ++rides_per_user[ride.user->user_id];
      if (!ride.readings.empty() && ride.readings.back().first / 86400000000LL != ride.start / 86400000000LL) {
        ++across_midnight;
      }
      across_files += ride.first_file != ride.last_file;
      const std::int64_t data_end =
          (std::chrono::sys_days(std::chrono::year(2022) / 10 / 3)).time_since_epoch().count() * 86400000000LL;
      if (ride.start + 2001 * 1000000LL < data_end) {
        EXPECT_GE(ride.readings.size(), 300U) << "full-length rides";
      }
      const RunSummary runs = runs_of(ride);
      alerting += runs.alerts;
      alerting_high += runs.alert_high;
      pairs += runs.has_pair;
      broken += runs.has_broken_run;
    }
  }
  EXPECT_GT(across_midnight, 0);
  EXPECT_GT(across_files, 10);
  EXPECT_GT(alerting, 3);
  EXPECT_GT(alerting_high, 0) << "high heart rates alert";
  EXPECT_GT(alerting - alerting_high, 0) << "low heart rates alert";
  EXPECT_GT(pairs, 0) << "runs of exactly two abnormal readings (no alert)";
  EXPECT_GT(broken, 0) << "abnormal runs broken by hrt = 0 (no alert)";
  EXPECT_EQ(alerting, planted_alerts);
  EXPECT_EQ(duplicates, planted_duplicates);
  EXPECT_GT(duplicates, 0);
  EXPECT_EQ(readings, planted_readings);
  const auto reused = std::count_if(rides_per_user.begin(), rides_per_user.end(), [](auto& e) { return e.second > 1; });
  EXPECT_GT(reused, 10) << "riders come back";
  const auto changed =
      std::count_if(details_by_user.begin(), details_by_user.end(), [](auto& e) { return e.second.size() > 1; });
  EXPECT_GT(changed, 0) << "a rider's details change between rides";
}

TEST(DelotonGenerateFeatures, UsersLookLikeTheRealOnes) {
  GenerateOptions options = small_options();
  options.bikes = 600;  // enough riders for the rarest odd gender (0.3 % each)
  options.days = 1;
  options.streams = 1;
  options.hours_per_file = 24;
  const GeneratedFile file = generate_file(options, 0, 0);
  std::map<std::string, int> counts;
  std::set<std::int64_t> users;
  for (const auto record : lines_of(file.text)) {
    if (record.find("[SYSTEM]") == std::string_view::npos) continue;
    const Line line = parse_line(record);
    ASSERT_EQ(line.kind, Kind::system);
    const auto user = parse_user(line.user_json);
    ASSERT_TRUE(user.has_value());
    if (!users.insert(user->user_id).second) continue;
    const std::string title = user->name.substr(0, user->name.find(' '));
    for (const char* known : {"Mr", "Mrs", "Miss", "Ms", "Dr", "Mr.", "Mrs.", "Miss.", "Ms.", "Dr."})
      counts["title"] += title == known;
    counts["hyphenated"] += user->name.find('-') != std::string::npos;
    counts[user->gender == "male" || user->gender == "female" ? user->gender : "other gender"] += 1;
    // The other class as users write it (DELOTON.md: anything but male / female, or missing).
    counts["gender non-binary"] += user->gender == "non-binary";
    counts["gender Male"] += user->gender == "Male";
    counts["gender \"\""] += !user->gender_missing && user->gender.empty();
    counts["gender missing"] += user->gender_missing;
    counts[std::to_string(std::count(user->address.begin(), user->address.end(), ',') + 1) + " address parts"] += 1;
    counts["before 1970"] += user->date_of_birth < 0;
    using namespace std::chrono;
    const year_month_day birth{sys_days(days(floor_div(user->date_of_birth, 86400000)))};
    EXPECT_EQ(user->date_of_birth % 86400000, 0) << "midnight UTC";
    counts["29 February"] += birth.month() == February && birth.day() == day(29);
    EXPECT_NE(user->email.find('@'), std::string::npos);
  }
  EXPECT_GT(users.size(), 250U);
  for (const char* feature :
       {"title", "hyphenated", "male", "female", "other gender", "gender non-binary", "gender Male", "gender \"\"",
        "gender missing", "3 address parts", "4 address parts", "before 1970", "29 February"}) {
    EXPECT_GT(counts[feature], 0) << feature;
  }
}

TEST(DelotonGenerateBadLines, EveryPlantedKindIsThereAndBreaksTheGrammar) {
  GenerateOptions options = small_options();
  options.bad_line_rate = 0.02;
  FileStats totals;
  std::int64_t ungrammatical = 0;
  for (std::int64_t stream = 0; stream < options.streams; ++stream) {
    for (std::int64_t window = 0; window < window_count(options); ++window) {
      const GeneratedFile file = generate_file(options, stream, window);
      totals.add(file.stats);
      for (const auto record : lines_of(file.text)) {
        const Line line = parse_line(record);
        // A broken ride start keeps its shape: its user JSON is what is wrong.
        const bool bad_user = line.kind == Kind::system && !parse_user(line.user_json);
        ungrammatical += line.kind == Kind::invalid || bad_user;
        if (line.kind == Kind::ride || line.kind == Kind::telemetry) {
          EXPECT_GE(line.resistance, 0);
        }
      }
    }
  }
  for (std::size_t kind = 0; kind < kDamageKinds; ++kind) {
    if (static_cast<DamageKind>(kind) == DamageKind::bad_user_json) continue;  // few ride starts: rare
    EXPECT_GT(totals.damaged[kind], 0) << damage_kind_name(static_cast<DamageKind>(kind));
  }
  const std::int64_t written_broken = totals.bad_lines() -
                                      totals.damaged[static_cast<std::size_t>(DamageKind::lost_telemetry)] -
                                      totals.damaged[static_cast<std::size_t>(DamageKind::lost_ride_line)];
  EXPECT_EQ(ungrammatical, written_broken);
  EXPECT_NEAR(static_cast<double>(totals.bad_lines()) / static_cast<double>(totals.lines), 0.02, 0.004);

  options.bad_line_rate = 1.0;  // every ride start gets a bad user JSON
  std::int64_t bad_users = 0, rides = 0;
  for (std::int64_t window = 0; window < window_count(options); ++window) {
    const GeneratedFile file = generate_file(options, 0, window);
    bad_users += file.stats.damaged[static_cast<std::size_t>(DamageKind::bad_user_json)];
    rides += file.stats.rides;
  }
  EXPECT_GT(rides, 0);
  EXPECT_EQ(bad_users, rides);
}

// <ancestor>/shared/data/deloton/landing, walking up from this file (the tests read the real
// samples in place; they are not part of the project).
std::optional<std::filesystem::path> real_samples() {
  if (const char* path = std::getenv("MPILAKE_DELOTON_SAMPLES")) return std::filesystem::path(path);
  for (auto folder = std::filesystem::absolute(__FILE__).parent_path(); folder.has_relative_path();
       folder = folder.parent_path()) {
    const auto candidate = folder / "shared" / "data" / "deloton" / "landing";
    if (std::filesystem::is_directory(candidate)) return candidate;
    if (folder == folder.parent_path()) break;
  }
  return std::nullopt;
}

TEST(DelotonGeneratePower, MatchesTheRealSamples) {
  EXPECT_EQ(power_text(30, 0), "0.0");
  EXPECT_EQ(power_watts(170, 0), 0.0);
  const auto folder = real_samples();
  if (!folder) GTEST_SKIP() << "real samples (shared/data/deloton/landing) not found";
  // (resistance, rpm) -> power text of each reading: a ride line and the next telemetry line.
  std::map<std::pair<std::int64_t, std::int64_t>, std::set<std::string>> real;
  for (const auto& entry : std::filesystem::directory_iterator(*folder)) {
    std::ifstream in(entry.path());
    std::string record;
    std::int64_t resistance = -1;  // of a ride line waiting for its telemetry
    while (std::getline(in, record)) {
      const Line line = parse_line(record);
      if (line.kind == Kind::ride) resistance = line.resistance;
      if (line.kind == Kind::telemetry && resistance >= 0) real[{resistance, line.rpm}].insert(line.power);
      if (line.kind == Kind::telemetry) resistance = -1;
    }
  }
  ASSERT_GT(real.size(), 90U);
  double worst = 0;
  for (const auto& [pair, texts] : real) {
    EXPECT_EQ(texts.size(), 1U) << "the feed writes one power per (resistance, rpm)";
    const double value = std::stod(*texts.begin());
    if (pair.second == 0) {
      EXPECT_EQ(power_text(pair.first, 0), *texts.begin());
      continue;
    }
    const double fitted = power_watts(pair.first, pair.second);
    worst = std::max(worst, std::abs(fitted / value - 1));
    EXPECT_NEAR(fitted / value, 1.0, 0.005) << "resistance " << pair.first << ", rpm " << pair.second;
  }
  RecordProperty("worst_relative_error", std::to_string(worst));
}

TEST(DelotonGeneratePower, TextLooksLikeTheFeed) {
  std::int64_t artefacts = 0, total = 0;
  for (std::int64_t resistance = 20; resistance <= 180; resistance += 5) {
    double previous = 0;
    for (std::int64_t rpm = 1; rpm <= 180; ++rpm) {
      const std::string text = power_text(resistance, rpm);
      const double value = std::stod(text);
      ASSERT_GT(value, previous) << "power rises with rpm";
      previous = value;
      // 10 significant digits, sometimes with a float artefact (17 digits), as the real feed.
      EXPECT_NEAR(value, power_watts(resistance, rpm), 1e-9 * value);
      std::string digits;
      for (const char c : text) {
        if (c >= '0' && c <= '9' && !(digits.empty() && c == '0')) digits.push_back(c);
      }
      artefacts += digits.size() > 10;
      ++total;
    }
    EXPECT_GT(power_watts(resistance + 5, 60), power_watts(resistance, 60)) << "power rises with resistance";
  }
  EXPECT_GT(artefacts, total / 20);
  EXPECT_LT(artefacts, total / 2);
}

}  // namespace
}  // namespace mpilake::deloton
