// The alert outbox's durable parts: the delivery log (records, a line torn by a crash, a corrupt
// line), durable writes and renames, the alert key, and the outbox lock.
#include "mpilake/alerts/outbox.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

namespace mpilake::alerts {
namespace {

namespace fs = std::filesystem;

class OutboxTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("mpilake_alerts_test_" + std::to_string(::getpid()) + "_" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  static std::string slurp(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream buffer;
    buffer << in.rdbuf();
    return buffer.str();
  }
  static void write(const fs::path& path, const std::string& text) { std::ofstream(path, std::ios::binary) << text; }

  fs::path dir_;
};

DeliveryRecord record(std::int64_t ride, const std::string& run = "run1") {
  return DeliveryRecord{run,
                        ride,
                        "<m" + std::to_string(ride) + "@x>",
                        alert_key(7, 1000 + ride, "bike \"q\" v1"),
                        "2026-12-01T00:00:00Z",
                        {},
                        0,
                        {}};
}

TEST_F(OutboxTest, LogRecordsSurviveReopening) {
  const fs::path path = dir_ / "delivered.log";
  {
    DeliveryLog log(path);
    EXPECT_TRUE(log.records().empty());
    log.append(record(3));
    log.append(record(5));
    EXPECT_TRUE(log.delivered("run1", 3));
    EXPECT_FALSE(log.delivered("run2", 3));
  }
  const DeliveryLog again(path);
  ASSERT_EQ(again.records().size(), 2U);
  EXPECT_EQ(again.records()[1].ride_id, 5);
  EXPECT_EQ(again.records()[1].message_id, "<m5@x>");
  EXPECT_TRUE(again.delivered("run1", 5));
  EXPECT_FALSE(again.delivered("run1", 4));
  EXPECT_EQ(again.delivered_by(alert_key(7, 1003, "bike \"q\" v1")), "run1");
  EXPECT_EQ(again.delivered_by(alert_key(7, 1004, "bike \"q\" v1")), "");
  // One line of JSON per record.
  const std::string text = slurp(path);
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 2);
  EXPECT_EQ(DeliveryLog::parse(text.substr(0, text.find('\n'))).alert_key, record(3).alert_key);
}

TEST_F(OutboxTest, ATornLastLineIsNoRecordAndIsCutOffBeforeTheNextAppend) {
  const fs::path path = dir_ / "delivered.log";
  const std::string first = DeliveryLog::format(record(1));
  const std::string second = DeliveryLog::format(record(2));
  write(path, first + second.substr(0, second.size() / 2));  // a crash in the middle of the write
  {
    DeliveryLog log(path);
    ASSERT_EQ(log.records().size(), 1U);
    EXPECT_FALSE(log.delivered("run1", 2));
    log.append(record(2));
  }
  EXPECT_EQ(slurp(path), first + second);
  EXPECT_EQ(DeliveryLog(path).records().size(), 2U);
}

TEST_F(OutboxTest, ACorruptCompleteLineIsAnError) {
  const fs::path path = dir_ / "delivered.log";
  write(path, DeliveryLog::format(record(1)) + "garbage\n");
  try {
    DeliveryLog log(path);
    FAIL() << "expected an error";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("line 2"), std::string::npos) << e.what();
  }
}

TEST_F(OutboxTest, AlertKeysCannotCollideThroughTheBikeName) {
  EXPECT_NE(alert_key(1, 23, "x"), alert_key(12, 3, "x"));
  EXPECT_NE(alert_key(1, 2, "3|x"), alert_key(1, 23, "|x"));
  EXPECT_EQ(alert_key(1, 2, "b"), alert_key(1, 2, "b"));
}

TEST_F(OutboxTest, DurableWritesReplaceWholeFilesAndLeaveNoTemporary) {
  const fs::path path = dir_ / "state.json";
  write_file_durably(path, "one");
  write_file_durably(path, "two");
  EXPECT_EQ(slurp(path), "two");
  for (const auto& entry : fs::directory_iterator(dir_)) EXPECT_EQ(entry.path().filename(), "state.json");
  create_directories_durably(dir_ / "sent" / "run1");
  rename_durably(path, dir_ / "sent" / "run1" / "state.json");
  EXPECT_FALSE(fs::exists(path));
  EXPECT_EQ(slurp(dir_ / "sent" / "run1" / "state.json"), "two");
  EXPECT_THROW(write_file_durably(dir_ / "missing" / "x", "y"), std::runtime_error);
}

TEST_F(OutboxTest, OneLockHolderAtATime) {
  {
    OutboxLock first(dir_);
    // flock() locks are per open file description: a second open in this process conflicts too.
    EXPECT_THROW(OutboxLock second(dir_), std::runtime_error);
  }
  EXPECT_NO_THROW(OutboxLock again(dir_));
}

}  // namespace
}  // namespace mpilake::alerts
