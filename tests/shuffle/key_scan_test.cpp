// previous_by_key under mpiexec: every rank can build every rank's input from a seed, so each rank
// computes the answer by walking the lower ranks' inputs downwards and compares.
#include "mpilake/shuffle/key_scan.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <optional>
#include <random>
#include <string>
#include <vector>

namespace mpilake {
namespace {

struct ScanInput {
  std::vector<KeyedValue> passed;
  std::vector<std::string> asked;
};

// Each key of the alphabet is passed with probability `density` and asked about with probability
// 1/2 (independently), so keys are asked that the rank does not pass and the other way round.
ScanInput scan_input_of(int rank, std::uint64_t seed, std::size_t alphabet, double density) {
  std::mt19937_64 random(seed * 7919 + static_cast<std::uint64_t>(rank));
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  ScanInput input;
  const bool empty_rank = random() % 5 == 0;
  for (std::size_t k = 0; k < alphabet; ++k) {
    const std::string key = k % 7 == 3 ? std::to_string(k) : "key-" + std::to_string(k);
    if (empty_rank) continue;
    if (unit(random) < density) input.passed.push_back({key, static_cast<std::int64_t>(random() >> 1) - (1LL << 62)});
    if (random() % 2 == 0) input.asked.push_back(key);
  }
  if (alphabet > 0 && !empty_rank && random() % 3 == 0) input.asked.push_back("");  // the empty key
  if (alphabet > 0 && !empty_rank && random() % 3 == 0) input.passed.push_back({"", rank});
  std::shuffle(input.passed.begin(), input.passed.end(), random);
  std::shuffle(input.asked.begin(), input.asked.end(), random);
  return input;
}

// The value the nearest rank below `rank` passed for `key`, walking down the inputs of all ranks.
std::optional<std::int64_t> reference(const std::vector<ScanInput>& all, int rank, const std::string& key) {
  for (int lower = rank - 1; lower >= 0; --lower)
    for (const KeyedValue& entry : all[static_cast<std::size_t>(lower)].passed)
      if (entry.key == key) return entry.value;
  return std::nullopt;
}

// Returns whether this rank got the right answers. Both collectives run before anything is
// compared, so a failing rank never leaves the others waiting.
bool check_scan(std::uint64_t seed, std::size_t alphabet, double density) {
  const Comm comm(MPI_COMM_WORLD);
  std::vector<ScanInput> all;
  for (int rank = 0; rank < comm.size(); ++rank) all.push_back(scan_input_of(rank, seed, alphabet, density));
  const ScanInput& mine = all[static_cast<std::size_t>(comm.rank())];
  const auto got = previous_by_key(comm, mine.passed, mine.asked);
  const auto own = previous_by_key(comm, mine.passed);
  const auto context = [&](const std::string& key) {
    return "seed " + std::to_string(seed) + " alphabet " + std::to_string(alphabet) + " density " +
           std::to_string(density) + " key '" + key + "' on rank " + std::to_string(comm.rank());
  };
  EXPECT_EQ(got.size(), mine.asked.size());
  EXPECT_EQ(own.size(), mine.passed.size());
  if (got.size() != mine.asked.size() || own.size() != mine.passed.size()) return false;
  for (std::size_t i = 0; i < got.size(); ++i) {
    const auto expected = reference(all, comm.rank(), mine.asked[i]);
    EXPECT_EQ(got[i], expected) << context(mine.asked[i]);
    if (got[i] != expected) return false;
  }
  for (std::size_t i = 0; i < own.size(); ++i) {
    const auto expected = reference(all, comm.rank(), mine.passed[i].key);
    EXPECT_EQ(own[i], expected) << context(mine.passed[i].key) << " (asking the keys passed)";
    if (own[i] != expected) return false;
  }
  return true;
}

TEST(KeyScan, RandomisedAgainstAWalkDownTheLowerRanks) {
  const Comm comm(MPI_COMM_WORLD);
  for (std::uint64_t seed = 1; seed <= 30; ++seed)
    for (const std::size_t alphabet : {std::size_t{1}, std::size_t{3}, std::size_t{200}})
      for (const double density : {0.0, 0.1, 0.5, 1.0}) {
        const bool ok = check_scan(seed, alphabet, density);
        // Every rank stops at the first case that failed anywhere, so the ranks stay in step.
        if (comm.allreduce_max(std::int64_t{ok ? 0 : 1}) != 0) FAIL() << "stopped at seed " << seed;
      }
}

TEST(KeyScan, NoKeysAnywhere) {
  const Comm comm(MPI_COMM_WORLD);
  EXPECT_TRUE(previous_by_key(comm, std::vector<KeyedValue>{}).empty());
}

TEST(KeyScan, NearestLowerRankWinsAndOwnValueIsNeverSeen) {
  const Comm comm(MPI_COMM_WORLD);
  const int rank = comm.rank();
  // "all": every rank passes 10 * rank. "even": only even ranks pass it, every rank asks.
  // "zero": only rank 0 passes it. "last": only the last rank passes it. "none": nobody passes it.
  std::vector<KeyedValue> passed = {{"all", 10 * rank}};
  if (rank % 2 == 0) passed.push_back({"even", 100 + rank});
  if (rank == 0) passed.push_back({"zero", -5});
  if (rank == comm.size() - 1) passed.push_back({"last", 77});
  const std::vector<std::string> asked = {"none", "last", "zero", "even", "all"};
  const auto got = previous_by_key(comm, passed, asked);
  ASSERT_EQ(got.size(), 5U);
  EXPECT_EQ(got[0], std::nullopt);
  EXPECT_EQ(got[1], std::nullopt);
  EXPECT_EQ(got[2], rank == 0 ? std::nullopt : std::optional<std::int64_t>(-5));
  const int even_below = rank % 2 == 0 ? rank - 2 : rank - 1;
  EXPECT_EQ(got[3], even_below < 0 ? std::nullopt : std::optional<std::int64_t>(100 + even_below));
  EXPECT_EQ(got[4], rank == 0 ? std::nullopt : std::optional<std::int64_t>(10 * (rank - 1)));
}

TEST(KeyScan, RejectsARepeatedKey) {
  const Comm comm(MPI_COMM_WORLD);
  const std::vector<KeyedValue> twice = {{"a", 1}, {"a", 2}};
  EXPECT_THROW(previous_by_key(comm, twice), std::invalid_argument);
  const std::vector<std::string> asked_twice = {"b", "b"};
  EXPECT_THROW(previous_by_key(comm, std::vector<KeyedValue>{}, asked_twice), std::invalid_argument);
}

}  // namespace
}  // namespace mpilake
