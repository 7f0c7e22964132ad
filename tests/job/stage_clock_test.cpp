// The stage named in a rank's error line: StageClock sets it, nesting restores the outer stage, and
// after a throw it still names the failed stage even once the clock (and its job) is destroyed, as
// main() reads it only after the job has unwound.
#include "mpilake/job/stage_clock.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <stdexcept>
#include <string>

#include "mpilake/job/stop_report.hpp"

namespace mpilake::job {
namespace {

std::string stage_or_none() {
  const char* stage = current_stage();
  return stage != nullptr ? stage : "(none)";
}

TEST(StageClock, NamesTheStageWhileItRunsAndRestoresTheOuterOne) {
  StageClock clock({"parse", "shuffle"});
  EXPECT_EQ(stage_or_none(), "(none)");
  clock.time(0, [&] {
    EXPECT_EQ(stage_or_none(), "parse");
    clock.time(1, [&] { EXPECT_EQ(stage_or_none(), "shuffle"); });
    EXPECT_EQ(stage_or_none(), "parse");
  });
  EXPECT_EQ(stage_or_none(), "(none)");
}

TEST(StageClock, AFailedStageIsStillNamedAfterTheClockIsGone) {
  std::string seen;
  try {
    auto clock = std::make_unique<StageClock>(std::vector<std::string>{"read", "write zones"});
    clock->time(1, [] { throw std::runtime_error("disk full"); });
  } catch (const std::runtime_error&) {
    // The clock that owned "write zones" was destroyed while unwinding; the name must outlive it.
    std::string overwrite(64, 'x');  // reuse of the freed memory would show here
    seen = stage_or_none();
  }
  EXPECT_EQ(seen, "write zones");
  set_current_stage(nullptr);
}

}  // namespace
}  // namespace mpilake::job
