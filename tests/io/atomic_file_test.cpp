// Outputs written under a temporary name: a reader sees the old file or the whole new one.
#include "mpilake/io/atomic_file.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace mpilake {
namespace {

std::string read_all(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

class AtomicFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    folder_ = std::filesystem::temp_directory_path() / ("mpilake_atomic_test_" + std::to_string(::getpid()));
    std::filesystem::remove_all(folder_);
    std::filesystem::create_directories(folder_);
  }
  void TearDown() override { std::filesystem::remove_all(folder_); }
  std::filesystem::path folder_;
};

TEST_F(AtomicFileTest, WriterShowsNothingUntilCommitThenTheWholeText) {
  const auto path = folder_ / "out.jsonl";
  write_file_atomically(path, "old\n");
  {
    AtomicFileWriter writer(path);
    writer.append("one\n");
    writer.append("");
    writer.append("two\n");
    EXPECT_EQ(read_all(path), "old\n");
    EXPECT_TRUE(std::filesystem::exists(temporary_path_for(path)));
    writer.commit();
  }
  EXPECT_EQ(read_all(path), "one\ntwo\n");
  EXPECT_FALSE(std::filesystem::exists(temporary_path_for(path)));
}

TEST_F(AtomicFileTest, WriterDestroyedWithoutCommitLeavesTheOldFileAndNoTemporary) {
  const auto path = folder_ / "out.jsonl";
  write_file_atomically(path, "old\n");
  {
    AtomicFileWriter writer(path);
    writer.append("half");
  }
  EXPECT_EQ(read_all(path), "old\n");
  EXPECT_FALSE(std::filesystem::exists(temporary_path_for(path)));
  { AtomicFileWriter never(folder_ / "new.jsonl"); }
  EXPECT_FALSE(std::filesystem::exists(folder_ / "new.jsonl"));
}

TEST_F(AtomicFileTest, WriterErrorsNameTheFile) {
  const auto missing = folder_ / "no-such-folder" / "out.jsonl";
  try {
    AtomicFileWriter writer(missing);
    FAIL() << "created a file in a missing folder";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("no-such-folder"), std::string::npos) << e.what();
  }
  AtomicFileWriter writer(folder_ / "out.jsonl");
  writer.commit();
  EXPECT_THROW(writer.append("late"), std::logic_error);
  EXPECT_THROW(writer.commit(), std::logic_error);
}

}  // namespace
}  // namespace mpilake
