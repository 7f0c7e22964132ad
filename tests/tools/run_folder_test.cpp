// The run-folder reader the tools share (tools/common): each check and the kind it reports.
#include "mpilake/tools/run_folder.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace mpilake::tools {
namespace {

namespace fs = std::filesystem;
using Kind = RunFolderError::Kind;

class RunFolderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("mpilake-run-folder-test-" + std::to_string(::getpid()));
    fs::remove_all(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  void write(const std::string& name, const std::string& text) { std::ofstream(dir_ / name, std::ios::binary) << text; }
  fs::path dir_;
};

template <class F>
std::optional<RunFolderError> error_of(F&& f) {
  try {
    f();
  } catch (const RunFolderError& e) {
    return e;
  }
  return std::nullopt;
}

TEST_F(RunFolderTest, EachSummaryProblemHasItsKind) {
  EXPECT_EQ(error_of([&] { read_summary(dir_); })->kind, Kind::no_folder);
  std::ofstream(dir_.string()) << "a file";
  EXPECT_EQ(error_of([&] { read_summary(dir_); })->kind, Kind::not_a_folder);
  fs::remove(dir_);
  fs::create_directories(dir_);
  EXPECT_EQ(error_of([&] { read_summary(dir_); })->kind, Kind::no_summary);
  fs::create_directories(dir_ / "summary.json");  // not a regular file either
  EXPECT_EQ(error_of([&] { read_summary(dir_); })->kind, Kind::no_summary);
  fs::remove(dir_ / "summary.json");
  write("summary.json", "[1, 2");
  EXPECT_EQ(error_of([&] { read_summary(dir_); })->kind, Kind::invalid_summary);
  write("summary.json", "[1, 2]");
  EXPECT_EQ(error_of([&] { read_summary(dir_); })->kind, Kind::not_an_object);
  if (::geteuid() != 0) {  // root reads a file without read permission
    write("summary.json", "{}");
    fs::permissions(dir_ / "summary.json", fs::perms::none);
    EXPECT_EQ(error_of([&] { read_summary(dir_); })->kind, Kind::unreadable_summary);
  }
}

TEST_F(RunFolderTest, ReadsTheSummaryAndChecksThePipeline) {
  fs::create_directories(dir_);
  const std::string text = R"({"pipeline": "deloton", "created_utc": "2026-03-02T10:00:00Z",
                               "zones": {"rides": {"rows": 3}, "daily": {"rows": "x"}}})";
  write("summary.json", text);
  const RunSummary summary = read_summary(dir_);
  EXPECT_EQ(summary.text, text);
  EXPECT_EQ(summary.pipeline, "deloton");
  EXPECT_EQ(summary.created_utc, "2026-03-02T10:00:00Z");
  EXPECT_EQ(summary.zone_rows("rides"), 3);
  EXPECT_EQ(summary.zone_rows("daily"), std::nullopt);
  EXPECT_EQ(summary.zone_rows("riders"), std::nullopt);
  EXPECT_FALSE(error_of([&] { require_pipeline(summary, "deloton"); }));
  const auto wrong = error_of([&] { require_pipeline(summary, "stedi"); });
  ASSERT_TRUE(wrong);
  EXPECT_EQ(wrong->kind, Kind::wrong_pipeline);
  EXPECT_EQ(wrong->subject, "deloton");

  write("summary.json", R"({"pipeline": 7})");
  const RunSummary unnamed = read_summary(dir_);
  EXPECT_EQ(unnamed.pipeline, "");
  EXPECT_EQ(error_of([&] { require_pipeline(unnamed, "deloton"); })->subject, "");
}

TEST_F(RunFolderTest, ZonesPresentAndOfThisRun) {
  fs::create_directories(dir_);
  write("summary.json", R"({"pipeline": "deloton", "created_utc": "T1", "zones": {"rides": {"rows": 2}}})");
  write("rides.h5", "");
  const RunSummary summary = read_summary(dir_);
  EXPECT_FALSE(error_of([&] { require_zones(dir_, {"rides"}); }));
  const auto missing = error_of([&] { require_zones(dir_, {"rides", "daily", "riders"}); });
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->kind, Kind::missing_zone);
  EXPECT_EQ(missing->subject, "daily");

  ZoneFile zone;
  zone.rows = 2;
  zone.attributes = {{"created_utc", std::string("T1")}, {"rows", std::int64_t{2}}};
  EXPECT_FALSE(error_of([&] { check_zone_of_run(summary, "rides", zone, {.created_utc = true, .rows = true}); }));
  zone.attributes[0].value = std::string("T0");
  auto other = error_of([&] { check_zone_of_run(summary, "rides", zone); });
  ASSERT_TRUE(other);
  EXPECT_EQ(other->kind, Kind::zone_of_other_run);
  EXPECT_EQ(other->subject, "rides");
  zone.attributes.erase(zone.attributes.begin());  // no created_utc at all
  EXPECT_EQ(error_of([&] { check_zone_of_run(summary, "rides", zone); })->kind, Kind::zone_of_other_run);
  EXPECT_FALSE(error_of([&] { check_zone_of_run(summary, "rides", zone, {.created_utc = false}); }));
  zone.rows = 3;  // the file has more rows than summary.json and its own attribute say
  EXPECT_EQ(error_of([&] { check_zone_of_run(summary, "rides", zone, {.created_utc = false, .rows = true}); })->kind,
            Kind::zone_rows_differ);
  EXPECT_EQ(error_of([&] { check_zone_of_run(summary, "daily", zone, {.created_utc = false, .rows = true}); })->kind,
            Kind::zone_rows_differ);  // no rows for it in summary.json

  EXPECT_FALSE(error_of([&] { check_zone_pipeline("rides", zone, "deloton"); }));  // no attribute: passes
  zone.attributes.push_back({"pipeline", std::string("stedi")});
  const auto differs = error_of([&] { check_zone_pipeline("rides", zone, "deloton"); });
  ASSERT_TRUE(differs);
  EXPECT_EQ(differs->kind, Kind::zone_pipeline_differs);
  EXPECT_EQ(differs->subject, "stedi");
  EXPECT_FALSE(error_of([&] { check_zone_pipeline("rides", zone, "stedi"); }));
}

}  // namespace
}  // namespace mpilake::tools
