// Landing discovery under mpiexec: every rank learns the same sorted file list, and a missing folder
// is reported alike on every rank (so the job stops cleanly instead of hanging).
#include "mpilake/io/landing.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

namespace mpilake {
namespace {

TEST(Discovery, ListsRegularFilesSortedOnEveryRank) {
  const Comm comm(MPI_COMM_WORLD);
  const std::filesystem::path root =
      std::filesystem::temp_directory_path() / comm.broadcast("mpilake_landing_test_" + std::to_string(::getpid()));
  if (comm.is_root()) {
    std::filesystem::create_directories(root / "a");
    std::filesystem::create_directories(root / "b");
    std::ofstream(root / "a" / "z.json") << "12345";
    std::ofstream(root / "a" / "m.json") << "1";
    std::ofstream(root / "a" / ".hidden") << "x";
  }
  comm.barrier();
  const auto sources = discover_landing(comm, root, {"a", "b"});
  ASSERT_EQ(sources.size(), 2u);
  ASSERT_EQ(sources[0].files.size(), 2u);
  EXPECT_EQ(std::filesystem::path(sources[0].files[0].path).filename(), "m.json");
  EXPECT_EQ(sources[0].files[1].bytes, 5);
  EXPECT_EQ(sources[0].total_bytes(), 6);
  EXPECT_TRUE(sources[1].files.empty());
  EXPECT_THROW(discover_landing(comm, root, {"a", "missing"}), ConsistentError);
  EXPECT_THROW(discover_landing(comm, root / "nope", {"a"}), ConsistentError);
  // A sub-folder in a source folder would be data silently left out: refused by name.
  comm.barrier();
  if (comm.is_root()) std::filesystem::create_directories(root / "b" / "part.json");
  comm.barrier();
  EXPECT_THROW(discover_landing(comm, root, {"a", "b"}), ConsistentError);
  comm.barrier();
  if (comm.is_root()) std::filesystem::remove_all(root);
}

}  // namespace
}  // namespace mpilake
