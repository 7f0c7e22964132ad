// The text of one progress report: share, amounts, rate, and the time left once a stage is under way.
#include "mpilake/job/progress.hpp"

#include <gtest/gtest.h>

#include <cstdio>

namespace mpilake::job {
namespace {

TEST(Progress, DescribesShareAmountsRateAndTimeLeft) {
  // 540 of 1200 MB in 2 s: 45%, 270 MB/s, and 660 MB at that rate take another 2.44 s (shown as 3 s).
  EXPECT_EQ(Progress::describe(540'000'000, 1'200'000'000, ProgressUnit::Bytes, 2.0),
            "45% (540 MB of 1.20 GB), 270 MB/s, about 3 s left");
  EXPECT_EQ(Progress::describe(3, 12, ProgressUnit::Rounds, 30.0),
            "25% (3 rounds of 12 rounds), about 1 min 30 s left");
}

TEST(Progress, AResumedStageCountsItsRateFromWhereItResumed) {
  // Resumed at 400 MB (other work came between): 200 MB more in 2 s is 100 MB/s, and the 600 MB left
  // take 6 s at that rate; the share still counts everything done.
  EXPECT_EQ(Progress::describe(600'000'000, 1'200'000'000, ProgressUnit::Bytes, 2.0, 400'000'000),
            "50% (600 MB of 1.20 GB), 100 MB/s, about 6 s left");
}

TEST(Progress, NoEstimateBeforeTheStageIsUnderWay) {
  EXPECT_EQ(Progress::describe(500'000'000, 1'000'000'000, ProgressUnit::Bytes, 0.5),
            "50% (500 MB of 1.00 GB), 1.00 GB/s");
  EXPECT_EQ(Progress::describe(1, 1000, ProgressUnit::Rows, 5.0), "0% (1 rows of 1000 rows)");
  EXPECT_EQ(Progress::describe(7, 7, ProgressUnit::Columns, 5.0), "100% (7 columns of 7 columns)");
}

TEST(Progress, PrintsNothingWhenDisabled) {
  std::FILE* sink = std::tmpfile();
  ASSERT_NE(sink, nullptr);
  Progress quiet(false, 0.0, sink);
  quiet.line("a stage line");
  quiet.begin("parse", 100, ProgressUnit::Bytes);
  quiet.update(50);
  quiet.end();
  EXPECT_EQ(std::ftell(sink), 0);
  Progress shown(true, 0.0, sink);  // a file, not a terminal: plain lines
  shown.line("a stage line");
  shown.begin("parse", 100, ProgressUnit::Bytes);
  shown.update(50);
  shown.end();
  std::rewind(sink);
  char text[256] = {};
  const std::size_t read = std::fread(text, 1, sizeof text - 1, sink);
  EXPECT_EQ(std::string(text, read).substr(0, 23), "[mpilake] a stage line\n");
  EXPECT_NE(std::string(text, read).find("[mpilake] parse: 50% (50 B of 100 B)"), std::string::npos) << text;
  std::fclose(sink);
}

}  // namespace
}  // namespace mpilake::job
