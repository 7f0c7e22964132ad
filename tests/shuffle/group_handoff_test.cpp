// hand_off_open_groups under mpiexec. Every rank can build every rank's input (from a seed, or from
// a hand-written case), so each rank walks the concatenation of all inputs as a single process
// would — each row joins the group of the latest start of its key, or is headless — and checks that
// after the hand-off (a) each group is whole on the rank of its start and, after stable_key_order,
// in global order, (b) the headless rows are the reference's and stayed on their rank, (c) no row is
// lost or duplicated; and, exactly, that the kept rows come first and the received ones follow by
// sending rank. Every collective runs before any comparison, and every rank stops at the first case
// that failed anywhere, so a failure never leaves ranks out of step.
#include "mpilake/shuffle/group_handoff.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

namespace mpilake {
namespace {

// The key is not the first column, and a float and a second string column ride along.
const Schema kSchema = {{"payload", ColumnType::Float64},
                        {"key", ColumnType::String},
                        {"rank", ColumnType::Int64},
                        {"index", ColumnType::Int64},
                        {"note", ColumnType::String}};
constexpr std::size_t kKey = 1, kRank = 2, kIndex = 3;

struct Row {
  std::string key;
  bool start = false;
  std::string label;  // hand-written cases: the group this row belongs to ("-": headless)
};
using Ranks = std::vector<std::vector<Row>>;             // every rank's rows, in rank order
using Position = std::pair<std::int64_t, std::int64_t>;  // (rank, index): the global order

struct Input {
  Table rows{kSchema};
  std::vector<std::uint8_t> start;
};

Input table_of(const Ranks& all, int rank) {
  Input input;
  const auto& rows = all[static_cast<std::size_t>(rank)];
  for (std::size_t i = 0; i < rows.size(); ++i) {
    input.rows.floats(0).push_back(static_cast<double>(rank) * 1000.5 + static_cast<double>(i));
    input.rows.strings(kKey).push_back(rows[i].key);
    input.rows.ints(kRank).push_back(rank);
    input.rows.ints(kIndex).push_back(static_cast<std::int64_t>(i));
    input.rows.strings(4).push_back(std::string(static_cast<std::size_t>(rank * 7 + i) % 23, 'x'));
    input.rows.commit_row();
    input.start.push_back(rows[i].start ? 1 : 0);
  }
  return input;
}

// Random rows for every rank: some ranks empty, keys from an alphabet of `alphabet` keys, each row a
// start with probability `density`.
Ranks random_ranks(int ranks, std::uint64_t seed, std::size_t alphabet, double density, std::size_t max_rows) {
  Ranks all;
  for (int rank = 0; rank < ranks; ++rank) {
    std::mt19937_64 random(seed * 104729 + static_cast<std::uint64_t>(rank));
    std::uniform_real_distribution<double> unit(0.0, 1.0);
    const std::size_t count = random() % 4 == 0 ? 0 : random() % (max_rows + 1);
    std::vector<Row> rows(count);
    for (Row& row : rows) {
      const std::uint64_t k = random() % alphabet;
      row.key = k == 0 ? std::string() : "bike " + std::to_string(k);  // the empty key is a key too
      row.start = unit(random) < density;
    }
    all.push_back(std::move(rows));
  }
  return all;
}

// Hand-written cases are given on `virtual_ranks` ranks; on fewer real ranks the virtual ranks from
// the last real one on are concatenated onto it, which keeps the global order (and the groups).
Ranks on_real_ranks(const Ranks& virtual_ranks, int ranks) {
  Ranks all(static_cast<std::size_t>(ranks));
  for (std::size_t v = 0; v < virtual_ranks.size(); ++v) {
    auto& to = all[std::min(v, static_cast<std::size_t>(ranks - 1))];
    to.insert(to.end(), virtual_ranks[v].begin(), virtual_ranks[v].end());
  }
  return all;
}

// The single-process walk: per row its group (the position of its start) or none (headless).
std::map<Position, std::optional<Position>> reference_groups(const Ranks& all) {
  std::map<Position, std::optional<Position>> group;
  std::map<std::string, Position> open;
  for (std::size_t r = 0; r < all.size(); ++r)
    for (std::size_t i = 0; i < all[r].size(); ++i) {
      const Position at{static_cast<std::int64_t>(r), static_cast<std::int64_t>(i)};
      const Row& row = all[r][i];
      if (row.start) open[row.key] = at;
      const auto it = open.find(row.key);
      group[at] = it == open.end() ? std::nullopt : std::optional<Position>(it->second);
    }
  return group;
}

struct Outcome {
  GroupHandoff got;
  ExchangeStats stats;
  std::int64_t rows_in = 0, rows_out = 0, bytes_sent = 0, bytes_received = 0, rounds = 0, rows_sent = 0;
};

// The collective part: the hand-off and the global sums the checks need.
Outcome run_hand_off(const Input& mine, std::int64_t max_round_bytes) {
  const Comm comm(MPI_COMM_WORLD);
  Outcome outcome;
  outcome.got =
      hand_off_open_groups(comm, mine.rows, kKey, mine.start,
                           ExchangeOptions{.max_round_bytes = max_round_bytes, .on_round = {}}, &outcome.stats);
  outcome.rows_in = comm.allreduce_sum(static_cast<std::int64_t>(mine.rows.num_rows()));
  outcome.rows_out = comm.allreduce_sum(static_cast<std::int64_t>(outcome.got.rows.num_rows()));
  outcome.bytes_sent = comm.allreduce_sum(outcome.stats.bytes_sent);
  outcome.bytes_received = comm.allreduce_sum(outcome.stats.bytes_received);
  outcome.rounds = comm.allreduce_max(outcome.stats.rounds);
  outcome.rows_sent = comm.allreduce_sum(outcome.got.rows_sent);
  return outcome;
}

// Checks this rank's outcome against the reference; returns false at the first difference (after
// reporting it). `labelled`: the case carries hand-written group labels to check the reference by.
bool check_outcome(const Ranks& all, const Outcome& outcome, std::int64_t max_round_bytes, bool labelled,
                   const std::string& name) {
  const Comm comm(MPI_COMM_WORLD);
  const int me = comm.rank();
  const auto groups = reference_groups(all);
  std::ostringstream where;
  where << name << " on rank " << me << " of " << comm.size() << ", round limit " << max_round_bytes;
  const auto fail = [&](const std::string& what) {
    ADD_FAILURE() << what << " (" << where.str() << ")";
    return false;
  };
  const auto row_at = [&](const Position& p) -> const Row& {
    return all[static_cast<std::size_t>(p.first)][static_cast<std::size_t>(p.second)];
  };

  // The hand-written labels agree with the reference walk: same partition, headless alike.
  if (labelled) {
    std::map<std::string, Position> group_of_label;
    std::map<Position, std::string> label_of_group;
    for (const auto& [at, group] : groups) {
      const std::string& label = row_at(at).label;
      if ((label == "-") != !group) return fail("reference and label disagree on headless for " + label);
      if (!group) continue;
      const auto [g, new_label] = group_of_label.emplace(label, *group);
      const auto [l, new_group] = label_of_group.emplace(*group, label);
      if (g->second != *group || l->second != label) return fail("reference groups differ from labels at " + label);
    }
  }

  // Where every row must be: with its group's start, or (headless) where it was.
  const auto home = [&](const Position& at) {
    const auto& group = groups.at(at);
    return group ? group->first : at.first;
  };
  std::map<Position, std::int64_t> group_size;
  for (const auto& [at, group] : groups) {
    if (group && group->first > at.first) return fail("reference: a group owner above its row");
    if (group) ++group_size[*group];
  }

  // Exactly: this rank's kept rows in order, then each higher rank's rows that come here.
  std::vector<Position> expected;
  for (int sender = me; sender < comm.size(); ++sender)
    for (std::size_t i = 0; i < all[static_cast<std::size_t>(sender)].size(); ++i) {
      const Position at{sender, static_cast<std::int64_t>(i)};
      if (home(at) == me) expected.push_back(at);
    }
  const GroupHandoff& got = outcome.got;
  const Table& out = got.rows;
  if (out.num_rows() != expected.size())
    return fail("rows here: " + std::to_string(out.num_rows()) + ", expected " + std::to_string(expected.size()));
  if (got.start.size() != out.num_rows() || got.headless.size() != out.num_rows())
    return fail("one start and one headless flag per row");
  std::size_t kept = 0;
  std::int64_t sent = 0;
  for (std::size_t i = 0; i < all[static_cast<std::size_t>(me)].size(); ++i) {
    if (home({me, static_cast<std::int64_t>(i)}) == me)
      ++kept;
    else
      ++sent;
  }
  if (got.kept_rows != kept) return fail("kept_rows " + std::to_string(got.kept_rows));
  if (got.rows_sent != sent) return fail("rows_sent " + std::to_string(got.rows_sent));
  for (std::size_t r = 0; r < out.num_rows(); ++r) {
    const Position at{out.ints(kRank)[r], out.ints(kIndex)[r]};
    const std::string pos = "(" + std::to_string(at.first) + ", " + std::to_string(at.second) + ")";
    if (at != expected[r]) return fail("output row " + std::to_string(r) + " is " + pos);
    const Row& row = row_at(at);
    if (out.strings(kKey)[r] != row.key) return fail("key of " + pos);
    if (out.floats(0)[r] != static_cast<double>(at.first) * 1000.5 + static_cast<double>(at.second))
      return fail("payload of " + pos);
    if (out.strings(4)[r].size() != static_cast<std::size_t>(at.first * 7 + at.second) % 23)
      return fail("note of " + pos);
    if ((got.start[r] != 0) != row.start) return fail("start flag of " + pos);
    // (b) headless exactly as in the reference (and, by the order check, on their own rank).
    if ((got.headless[r] != 0) != !groups.at(at)) return fail("headless flag of " + pos);
    if (got.headless[r] && at.first != me) return fail("a headless row moved: " + pos);
  }

  // (a) The pipeline's walk: in stable_key_order each key's rows are in global order, headless
  // ones first, and each row joins the latest start seen, which is its reference group; and each
  // group here is complete.
  std::map<std::string, Position, std::less<>> last_of_key;
  std::map<std::string, Position, std::less<>> open;
  std::map<Position, std::int64_t> seen_in_group;
  for (const std::size_t r : stable_key_order(out, kKey)) {
    const std::string key(out.strings(kKey)[r]);
    const Position at{out.ints(kRank)[r], out.ints(kIndex)[r]};
    const std::string pos = "(" + std::to_string(at.first) + ", " + std::to_string(at.second) + ")";
    if (const auto last = last_of_key.find(key); last != last_of_key.end() && !(last->second < at))
      return fail("key '" + key + "' out of global order at " + pos);
    last_of_key[key] = at;
    if (got.start[r]) open[key] = at;
    const auto it = open.find(key);
    if (got.headless[r]) {
      if (it != open.end()) return fail("a headless row after a start of its key: " + pos);
      continue;
    }
    if (it == open.end()) return fail("a row of no group here and not headless: " + pos);
    if (groups.at(at) != it->second) return fail("the walk puts " + pos + " in another group");
    ++seen_in_group[it->second];
  }
  for (const auto& [start, count] : seen_in_group)
    if (count != group_size.at(start)) return fail("a group is incomplete here");

  // (c) Nothing lost or duplicated, overall (each rank's rows are exactly its share, above).
  if (outcome.rows_out != outcome.rows_in) return fail("rows in and out differ overall");
  if (outcome.bytes_sent != outcome.bytes_received) return fail("bytes sent and received differ overall");
  if (outcome.rows_sent == 0 && outcome.bytes_sent != 0) return fail("bytes sent with no row sent");
  // Under a limit below one row's bytes every round moves one row per (sender, destination) pair.
  std::map<std::pair<std::int64_t, std::int64_t>, std::int64_t> rows_per_pair;
  std::int64_t most_per_pair = 0;
  for (const auto& [at, group] : groups) most_per_pair = std::max(most_per_pair, ++rows_per_pair[{at.first, home(at)}]);
  if (max_round_bytes < 16 && outcome.rounds != most_per_pair)
    return fail("rounds " + std::to_string(outcome.rounds) + ", expected " + std::to_string(most_per_pair));
  return true;
}

bool check_case(const Ranks& all, std::int64_t max_round_bytes, bool labelled, const std::string& name) {
  const Comm comm(MPI_COMM_WORLD);
  const Outcome outcome = run_hand_off(table_of(all, comm.rank()), max_round_bytes);
  return check_outcome(all, outcome, max_round_bytes, labelled, name);
}

// What a set of cases exercised (from the reference, the same on every rank), so a generator that
// drifted into trivial inputs fails instead of passing quietly.
struct Coverage {
  std::int64_t moved = 0;          // rows that go to a lower rank
  std::int64_t far = 0;            // ... past a rank between (a group crossing a rank without its start)
  std::int64_t headless = 0;       // headless rows
  std::int64_t late_headless = 0;  // headless rows on a rank that holds a later start of their key
};

void add_coverage(const Ranks& all, Coverage& coverage) {
  std::map<std::pair<std::int64_t, std::string>, Position> last_start;
  for (std::size_t r = 0; r < all.size(); ++r)
    for (std::size_t i = 0; i < all[r].size(); ++i)
      if (all[r][i].start) last_start[{static_cast<std::int64_t>(r), all[r][i].key}] = {r, i};
  for (const auto& [at, group] : reference_groups(all)) {
    if (!group) {
      ++coverage.headless;
      if (last_start.count(
              {at.first, all[static_cast<std::size_t>(at.first)][static_cast<std::size_t>(at.second)].key}))
        ++coverage.late_headless;
    } else if (group->first < at.first) {
      ++coverage.moved;
      if (group->first + 1 < at.first) ++coverage.far;
    }
  }
}

// Runs every case; all ranks stop together at the first case that failed on any rank (and return
// nothing).
std::optional<Coverage> run_cases(const std::vector<std::pair<std::string, Ranks>>& cases, std::int64_t max_round_bytes,
                                  bool labelled) {
  const Comm comm(MPI_COMM_WORLD);
  Coverage coverage;
  for (const auto& [name, all] : cases) {
    const bool ok = check_case(all, max_round_bytes, labelled, name);
    if (comm.allreduce_max(std::int64_t{ok ? 0 : 1}) != 0) {
      ADD_FAILURE() << "stopped at case " << name;
      return std::nullopt;
    }
    add_coverage(all, coverage);
  }
  return coverage;
}

void expect_coverage(const std::optional<Coverage>& ran, int ranks) {
  if (!ran) return;  // a case failed: the coverage of the cases before it says nothing
  const Coverage& coverage = *ran;
  EXPECT_GT(coverage.headless, 0);
  EXPECT_GT(coverage.late_headless, 0);
  if (ranks >= 2) {
    EXPECT_GT(coverage.moved, 0);
  }
  if (ranks >= 3) {
    EXPECT_GT(coverage.far, 0);
  }
}

TEST(GroupHandoff, RandomisedAgainstASingleProcessWalk) {
  const Comm comm(MPI_COMM_WORLD);
  std::vector<std::pair<std::string, Ranks>> cases;
  for (std::uint64_t seed = 1; seed <= 30; ++seed)
    for (const std::size_t alphabet :
         {std::size_t{1}, std::size_t{2}, std::size_t{6}, std::size_t{40}, std::size_t{5000}})
      for (const double density : {0.0, 0.01, 0.1, 0.5, 1.0}) {
        std::ostringstream name;
        name << "seed " << seed << ", alphabet " << alphabet << ", start density " << density;
        cases.emplace_back(name.str(), random_ranks(comm.size(), seed, alphabet, density, 150));
      }
  expect_coverage(run_cases(cases, std::int64_t{1} << 20, false), comm.size());
}

TEST(GroupHandoff, TinyRoundLimitsRunManyRoundsWithTheSameResult) {
  const Comm comm(MPI_COMM_WORLD);
  for (const std::int64_t limit : {1, 7, 100}) {
    std::vector<std::pair<std::string, Ranks>> cases;
    for (std::uint64_t seed = 20; seed <= 23; ++seed)
      for (const std::size_t alphabet : {std::size_t{1}, std::size_t{3}, std::size_t{30}})
        for (const double density : {0.0, 0.05, 0.3}) {
          std::ostringstream name;
          name << "seed " << seed << ", alphabet " << alphabet << ", start density " << density;
          cases.emplace_back(name.str(), random_ranks(comm.size(), seed, alphabet, density, 40));
        }
    expect_coverage(run_cases(cases, limit, false), comm.size());
  }
}

// Hand-written corner cases, on up to 7 virtual ranks (see on_real_ranks). A row is
// {key, is start, group label}; "-" labels a headless row.
TEST(GroupHandoff, HandWrittenCornerCases) {
  const Comm comm(MPI_COMM_WORLD);
  const Row a{"a", false, "a1"}, b{"b", false, "b1"};
  std::vector<std::pair<std::string, Ranks>> cases = {
      {"no rows anywhere", {}},
      {"a key with starts on no rank",
       {{{"a", false, "-"}, {"a", false, "-"}}, {}, {{"a", false, "-"}}, {{"a", false, "-"}}, {{"a", false, "-"}}}},
      {"a key whose only start is on the last rank",
       {{{"a", false, "-"}},
        {{"a", false, "-"}},
        {},
        {{"a", false, "-"}, {"a", false, "-"}},
        {{"a", false, "-"}},
        {{"a", false, "-"}},
        {{"a", false, "-"}, {"a", true, "a1"}, {"a", false, "a1"}}}},
      {"rows before the first start on the rank of a later start (with a lower start)",
       {{{"a", true, "a1"}, a}, {a, a, {"a", true, "a2"}, {"a", false, "a2"}, {"a", true, "a3"}}}},
      {"rows before the first start on the rank of a later start (no lower start)",
       {{}, {{"a", false, "-"}, {"a", false, "-"}, {"a", true, "a1"}, a}, {a}}},
      {"empty ranks between a start and its rows", {{{"a", true, "a1"}}, {}, {}, {a, a}, {}, {a}, {}}},
      {"all rows on rank 0", {{{"a", false, "-"}, {"a", true, "a1"}, a, {"b", true, "b1"}, a, b}}},
      {"all rows on the last rank",
       {{}, {}, {}, {}, {}, {}, {{"a", false, "-"}, {"a", true, "a1"}, a, {"b", true, "b1"}, a, b}}},
      {"starts on ranks 0 and 3, rows on 1, 2 and 4",
       {{{"a", true, "a1"}}, {a}, {a, a}, {a, {"a", true, "a2"}, {"a", false, "a2"}}, {{"a", false, "a2"}}}},
      {"several keys interleaved, groups ending and starting within ranks",
       {{{"b", false, "-"}, {"a", true, "a1"}, {"c", false, "-"}, a},
        {{"c", false, "-"}, a, {"b", true, "b1"}, {"a", true, "a2"}, b, {"a", false, "a2"}},
        {{"a", false, "a2"}, b, {"c", true, "c1"}, {"b", true, "b2"}},
        {},
        {{"c", false, "c1"}, {"b", false, "b2"}, {"a", false, "a2"}, {"a", true, "a3"}, {"a", false, "a3"}},
        {{"c", false, "c1"}},
        {{"b", false, "b2"}, {"c", true, "c2"}, {"a", false, "a3"}}}},
      {"a start on every row", {{{"a", true, "a1"}, {"a", true, "a2"}}, {{"a", true, "a3"}}, {{"a", true, "a4"}}}},
      {"the empty key", {{{"", true, "e1"}}, {{"", false, "e1"}, {"", true, "e2"}}, {{"", false, "e2"}}}},
      {"a group started on rank 0 running through every rank", {{{"a", true, "a1"}}, {a}, {a}, {a}, {a}, {a}, {a}}},
  };
  for (auto& [name, virtual_ranks] : cases) virtual_ranks = on_real_ranks(virtual_ranks, comm.size());
  run_cases(cases, std::int64_t{1} << 20, true);
  run_cases(cases, 3, true);
}

TEST(GroupHandoff, RejectsBadArguments) {
  const Comm comm(MPI_COMM_WORLD);
  const Input input = table_of({{{"a", true, "a1"}}}, 0);
  const std::vector<std::uint8_t> no_flags;
  EXPECT_THROW(hand_off_open_groups(comm, input.rows, kKey, no_flags, ExchangeOptions{}), std::invalid_argument);
  EXPECT_THROW(hand_off_open_groups(comm, input.rows, kRank, input.start, ExchangeOptions{}), std::invalid_argument);
  EXPECT_THROW(hand_off_open_groups(comm, input.rows, 9, input.start, ExchangeOptions{}), std::invalid_argument);
}

TEST(GroupHandoff, StableKeyOrderKeepsRowOrderWithinAKey) {
  Table table(kSchema);
  for (const std::string key : {"b", "a", "b", "", "a"}) {
    table.floats(0).push_back(0);
    table.strings(kKey).push_back(key);
    table.ints(kRank).push_back(0);
    table.ints(kIndex).push_back(0);
    table.strings(4).push_back("");
    table.commit_row();
  }
  EXPECT_EQ(stable_key_order(table, kKey), (std::vector<std::size_t>{3, 1, 4, 0, 2}));
}

}  // namespace
}  // namespace mpilake
