// Tests of the synthetic STEDI landing generator's pure parts (no MPI needed): determinism, line
// accounting, the shared timestamps of the ML join, the privacy-relevant mix and the step signal.
#include "mpilake/stedi/generate.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace mpilake::stedi {
namespace {

GenerateOptions small_options() {
  GenerateOptions options;
  options.customers = 400;
  options.readings_per_customer = 40;
  options.customers_per_file = 100;
  options.seed = 42;
  return options;
}

// Non-blank lines of a file, without BOM and line ends (the way a reader sees them).
std::vector<std::string_view> lines_of(std::string_view text) {
  if (text.starts_with("\xEF\xBB\xBF")) text.remove_prefix(3);
  std::vector<std::string_view> lines;
  while (!text.empty()) {
    const std::size_t newline = text.find('\n');
    std::string_view line = text.substr(0, newline);
    if (line.ends_with('\r')) line.remove_suffix(1);
    if (!line.empty()) lines.push_back(line);
    if (newline == std::string_view::npos) break;
    text.remove_prefix(newline + 1);
  }
  return lines;
}

// The raw value text after "key": in a generated line (enough for tests; not a JSON parser).
std::optional<std::string_view> raw_value(std::string_view line, std::string_view key) {
  const std::string quoted = "\"" + std::string(key) + "\":";
  std::size_t at = line.find(quoted);
  if (at == std::string_view::npos) return std::nullopt;
  at += quoted.size();
  while (at < line.size() && line[at] == ' ') ++at;
  std::size_t end = at;
  if (end < line.size() && line[end] == '"') {
    end = line.find('"', end + 1);
    if (end == std::string_view::npos) return std::nullopt;
    return line.substr(at + 1, end - at - 1);
  }
  while (end < line.size() && line[end] != ',' && line[end] != '}') ++end;
  return line.substr(at, end - at);
}

std::optional<double> number_value(std::string_view line, std::string_view key) {
  const auto raw = raw_value(line, key);
  if (!raw || raw->empty()) return std::nullopt;
  double value = 0;
  const auto result = std::from_chars(raw->data(), raw->data() + raw->size(), value);
  if (result.ec != std::errc() || result.ptr != raw->data() + raw->size()) return std::nullopt;
  return value;
}

std::optional<std::int64_t> timestamp_of(std::string_view line) {
  auto value = number_value(line, "timestamp");
  if (!value) value = number_value(line, "timeStamp");
  if (!value) value = number_value(line, "sensorReadingTime");
  if (!value) return std::nullopt;
  return static_cast<std::int64_t>(*value);
}

TEST(GenerateBlock, SameSeedGivesSameBytes) {
  const GenerateOptions options = small_options();
  const GeneratedBlock first = generate_block(options, 1);
  const GeneratedBlock again = generate_block(options, 1);
  for (const Source source : kAllSources) EXPECT_EQ(first.text(source), again.text(source));

  GenerateOptions other_seed = options;
  other_seed.seed = 43;
  EXPECT_NE(generate_block(other_seed, 1).accelerometer, first.accelerometer);
}

TEST(GenerateBlock, RowsCountTheNonBlankLines) {
  GenerateOptions options = small_options();
  options.bad_line_rate = 0.02;
  std::int64_t broken = 0;
  for (std::int64_t block = 0; block < block_count(options); ++block) {
    const GeneratedBlock generated = generate_block(options, block);
    EXPECT_EQ(static_cast<std::int64_t>(lines_of(generated.customer).size()), generated.customer_rows);
    EXPECT_EQ(static_cast<std::int64_t>(lines_of(generated.accelerometer).size()), generated.accelerometer_rows);
    EXPECT_EQ(static_cast<std::int64_t>(lines_of(generated.step_trainer).size()), generated.step_trainer_rows);
    broken += generated.broken_rows;
  }
  EXPECT_GT(broken, 0);
}

TEST(GenerateBlock, WithoutBadLinesEveryLineIsAnObjectWithItsRequiredFields) {
  const GenerateOptions options = small_options();
  const GeneratedBlock generated = generate_block(options, 0);
  EXPECT_EQ(generated.broken_rows, 0);
  const auto check = [](std::string_view text, std::vector<std::vector<std::string_view>> required) {
    for (const std::string_view line : lines_of(text)) {
      ASSERT_TRUE(line.starts_with('{') && line.ends_with('}')) << line;
      for (const auto& alternatives : required) {
        const bool found = std::any_of(alternatives.begin(), alternatives.end(), [&](auto key) {
          const auto value = raw_value(line, key);
          return value && !value->empty() && *value != "null";
        });
        EXPECT_TRUE(found) << alternatives.front() << " missing in " << line;
      }
    }
  };
  check(generated.customer, {{"email"}, {"serialNumber"}});
  check(generated.accelerometer, {{"user"}, {"timestamp", "timeStamp"}, {"x"}, {"y"}, {"z"}});
  check(generated.step_trainer, {{"sensorReadingTime"}, {"serialNumber"}, {"distanceFromObject"}});
}

TEST(GenerateBlock, BadLineRateOneBreaksEveryLine) {
  GenerateOptions options = small_options();
  options.bad_line_rate = 1.0;
  const GeneratedBlock generated = generate_block(options, 0);
  EXPECT_EQ(generated.broken_rows,
            generated.customer_rows + generated.accelerometer_rows + generated.step_trainer_rows);
}

TEST(GenerateBlock, ValuesDoNotDependOnTheBadLineRate) {
  // Formatting draws use their own stream, so the clean lines of a data set with broken lines are
  // the lines of the clean data set.
  GenerateOptions clean = small_options();
  GenerateOptions dirty = clean;
  dirty.bad_line_rate = 0.05;
  const GeneratedBlock clean_block = generate_block(clean, 0);
  const GeneratedBlock dirty_block = generate_block(dirty, 0);
  const auto clean_lines = lines_of(clean_block.step_trainer);
  const auto dirty_lines = lines_of(dirty_block.step_trainer);
  ASSERT_EQ(clean_lines.size(), dirty_lines.size());
  std::size_t same = 0;
  for (std::size_t i = 0; i < clean_lines.size(); ++i) same += clean_lines[i] == dirty_lines[i];
  EXPECT_GT(same, clean_lines.size() * 9 / 10);
}

TEST(GenerateBlock, AccelerometerTimestampsMatchStepTrainerTimestamps) {
  const GeneratedBlock generated = generate_block(small_options(), 0);
  std::set<std::int64_t> step_times;
  for (const auto line : lines_of(generated.step_trainer)) {
    if (const auto time = timestamp_of(line)) step_times.insert(*time);
  }
  std::int64_t matched = 0, total = 0;
  for (const auto line : lines_of(generated.accelerometer)) {
    const auto time = timestamp_of(line);
    if (!time) continue;
    ++total;
    matched += step_times.count(*time) > 0;
    EXPECT_GE(*time, 1655000000000);
    EXPECT_LT(*time, 1656000000000);
  }
  ASSERT_GT(total, 1000);
  // Unknown users' phones, readings lost on one side: a few percent do not match.
  EXPECT_GT(static_cast<double>(matched) / static_cast<double>(total), 0.9);
}

TEST(GenerateBlock, CustomersHaveConsentSharedSerialsAndFewDuplicates) {
  GenerateOptions options = small_options();
  options.customers = 3000;
  options.customers_per_file = 3000;
  options.readings_per_customer = 0;
  const GeneratedBlock generated = generate_block(options, 0);
  const auto lines = lines_of(generated.customer);
  std::int64_t consenting = 0;
  std::set<std::string> emails;
  std::map<std::string, int> owners_per_serial;
  for (const auto line : lines) {
    const auto research = raw_value(line, "shareWithResearchAsOfDate");
    consenting += research && !research->empty() && *research != "null";
    const auto email = raw_value(line, "email");
    ASSERT_TRUE(email.has_value());
    if (!emails.insert(std::string(*email)).second) continue;  // a duplicated row
    EXPECT_TRUE(email->ends_with("@test.com"));
    ++owners_per_serial[std::string(*raw_value(line, "serialNumber"))];
  }
  const double rows = static_cast<double>(lines.size());
  EXPECT_NEAR(static_cast<double>(consenting) / rows, options.consent_fraction, 0.04);
  EXPECT_GT(emails.size(), lines.size() * 97 / 100);  // duplicates are rare...
  EXPECT_LT(emails.size(), lines.size());             // ...but present
  std::int64_t sharing = 0;
  for (const auto& [serial, owners] : owners_per_serial) sharing += owners > 1 ? owners : 0;
  EXPECT_GT(sharing, 0);
  EXPECT_LT(static_cast<double>(sharing), 0.06 * rows);
}

TEST(GenerateBlock, DistanceSwingsComeWithAccelerometerMotion) {
  // What a step classifier learns: windows labelled "stepping" from the distance signal (it swings
  // by tens of cm with each step) show a much more varied phone acceleration than "standing" ones.
  GenerateOptions options = small_options();
  options.readings_per_customer = 400;
  const GeneratedBlock generated = generate_block(options, 0);
  std::map<std::int64_t, double> magnitude_by_time;  // |acceleration| in g
  for (const auto line : lines_of(generated.accelerometer)) {
    const auto time = timestamp_of(line);
    const auto x = number_value(line, "x"), y = number_value(line, "y"), z = number_value(line, "z");
    if (time && x && y && z) magnitude_by_time[*time] = std::sqrt(*x * *x + *y * *y + *z * *z);
  }
  std::map<std::string, std::vector<std::pair<std::int64_t, double>>> readings_by_serial;
  for (const auto line : lines_of(generated.step_trainer)) {
    const auto time = timestamp_of(line);
    const auto serial = raw_value(line, "serialNumber");
    const auto distance = number_value(line, "distanceFromObject");
    if (!time || !serial || !distance) continue;
    EXPECT_GE(*distance, 100);
    EXPECT_LE(*distance, 350);
    readings_by_serial[std::string(*serial)].emplace_back(*time, *distance);
  }
  constexpr std::size_t kWindow = 8;
  double stepping_spread = 0, standing_spread = 0;
  std::int64_t stepping_windows = 0, standing_windows = 0;
  for (auto& [serial, readings] : readings_by_serial) {
    std::sort(readings.begin(), readings.end());
    for (std::size_t start = 0; start + kWindow <= readings.size(); start += kWindow) {
      double low = 1e9, high = -1e9, sum = 0, sum_squares = 0;
      std::size_t matched = 0;
      for (std::size_t i = start; i < start + kWindow; ++i) {
        low = std::min(low, readings[i].second);
        high = std::max(high, readings[i].second);
        const auto found = magnitude_by_time.find(readings[i].first);
        if (found == magnitude_by_time.end()) continue;
        sum += found->second;
        sum_squares += found->second * found->second;
        ++matched;
      }
      if (matched < kWindow / 2) continue;
      const double mean = sum / static_cast<double>(matched);
      const double spread = std::sqrt(std::max(0.0, sum_squares / static_cast<double>(matched) - mean * mean));
      if (high - low > 25) {
        stepping_spread += spread;
        ++stepping_windows;
      } else if (high - low < 12) {
        standing_spread += spread;
        ++standing_windows;
      }
    }
  }
  ASSERT_GT(stepping_windows, 100);
  ASSERT_GT(standing_windows, 100);
  EXPECT_GT(stepping_spread / static_cast<double>(stepping_windows),
            3 * standing_spread / static_cast<double>(standing_windows));
}

TEST(GenerateLayout, BlockCountAndPaths) {
  GenerateOptions options;
  options.customers = 25;
  options.customers_per_file = 10;
  EXPECT_EQ(block_count(options), 3);
  options.customers = 0;
  EXPECT_EQ(block_count(options), 0);
  EXPECT_EQ(block_path("/land", Source::customer, 7, 3), std::filesystem::path("/land/customer/customer-000007.json"));
  EXPECT_EQ(block_path("/land", Source::step_trainer, 12, 1234567),
            std::filesystem::path("/land/step_trainer/step_trainer-0000012.json"));
  EXPECT_EQ(source_name(Source::accelerometer), "accelerometer");
  EXPECT_THROW(generate_block(options, 0), std::invalid_argument);
}

TEST(GenerateLayout, RejectsInvalidOptions) {
  GenerateOptions options;
  options.customers_per_file = 0;
  EXPECT_THROW(block_count(options), std::invalid_argument);
  options = GenerateOptions{};
  options.consent_fraction = 1.5;
  EXPECT_THROW(resolve_readings_per_customer(options), std::invalid_argument);
}

TEST(GenerateSize, TargetBytesIsApproximatelyMet) {
  GenerateOptions options = small_options();
  EXPECT_EQ(resolve_readings_per_customer(options), options.readings_per_customer);
  options.target_bytes = 8'000'000;
  options.readings_per_customer = resolve_readings_per_customer(options);
  EXPECT_GT(options.readings_per_customer, 0);
  std::int64_t bytes = 0;
  for (std::int64_t block = 0; block < block_count(options); ++block) {
    const GeneratedBlock generated = generate_block(options, block);
    for (const Source source : kAllSources) {
      bytes += static_cast<std::int64_t>(generated.text(source).size());
    }
  }
  EXPECT_NEAR(static_cast<double>(bytes), 8'000'000.0, 0.05 * 8'000'000.0);
}

}  // namespace
}  // namespace mpilake::stedi
