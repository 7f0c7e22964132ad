#include "mpilake/util/huge_pages.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "mpilake/table/table.hpp"

namespace mpilake {
namespace {

// The kernel's THP mode: the bracketed word of /sys/kernel/mm/transparent_hugepage/enabled.
std::string thp_mode() {
  std::ifstream file("/sys/kernel/mm/transparent_hugepage/enabled");
  std::string text((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  const auto open = text.find('['), close = text.find(']');
  return open == std::string::npos || close == std::string::npos ? "" : text.substr(open + 1, close - open - 1);
}

// AnonHugePages (kB) of the mapping of /proc/self/smaps that holds `address`.
std::int64_t huge_kb_at(const void* address) {
  const auto at = reinterpret_cast<std::uintptr_t>(address);
  std::ifstream smaps("/proc/self/smaps");
  std::string line;
  bool inside = false;
  while (std::getline(smaps, line)) {
    std::uintptr_t begin = 0, end = 0;
    char dash = 0;
    std::istringstream head(line);
    if (head >> std::hex >> begin >> dash >> end && dash == '-') {
      inside = begin <= at && at < end;
      continue;
    }
    if (inside && line.rfind("AnonHugePages:", 0) == 0) return std::stoll(line.substr(14));
  }
  return -1;
}

// Touches every page of a buffer, as a column filling up does.
template <class Value>
void fill(std::vector<Value>& values) {
  values.resize(values.capacity());
  for (std::size_t i = 0; i < values.size(); i += 512) values[i] = static_cast<Value>(i);
}

TEST(HugePages, LargeReservationGetsHugePagesWhereTheKernelGivesThemOnRequest) {
  if (thp_mode() != "madvise") GTEST_SKIP() << "THP mode is '" << thp_mode() << "', not madvise";
  std::vector<std::int64_t> values;
  reserve_huge(values, std::size_t{64} << 17);  // 64 MiB
  fill(values);
  // Huge pages are advice: a fragmented machine may give fewer, but not none of 32.
  EXPECT_GT(huge_kb_at(values.data() + values.size() / 2), 0);
}

TEST(HugePages, PlainReserveGetsNoneUnderMadviseMode) {
  // The control: without the advice the same buffer has no huge page, so the test above sees the
  // advice and not the kernel's default.
  if (thp_mode() != "madvise") GTEST_SKIP() << "THP mode is '" << thp_mode() << "', not madvise";
  std::vector<std::int64_t> values;
  values.reserve(std::size_t{64} << 17);
  fill(values);
  EXPECT_EQ(huge_kb_at(values.data() + values.size() / 2), 0);
}

TEST(HugePages, TableReserveRowsAdvisesItsColumns) {
  if (thp_mode() != "madvise") GTEST_SKIP() << "THP mode is '" << thp_mode() << "', not madvise";
  Table table({{"id", ColumnType::Int64}, {"value", ColumnType::Float64}, {"name", ColumnType::String}});
  table.reserve_rows(std::size_t{64} << 17);
  fill(table.ints(0));
  fill(table.floats(1));
  EXPECT_GT(huge_kb_at(table.ints(0).data() + table.ints(0).size() / 2), 0);
  EXPECT_GT(huge_kb_at(table.floats(1).data() + table.floats(1).size() / 2), 0);
}

TEST(HugePages, SmallAndNullRangesAreLeftAlone) {
  // Advice only: never an error, whatever the range.
  advise_huge_pages(nullptr, std::size_t{1} << 30);
  std::vector<char> small(4096);
  advise_huge_pages(small.data(), small.size());
  std::vector<std::int64_t> values;
  reserve_huge(values, 16);
  EXPECT_GE(values.capacity(), 16u);
}

}  // namespace
}  // namespace mpilake
