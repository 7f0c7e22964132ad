// The local ML join against a nested-loop reference with a tuple sort, on random inputs with few
// distinct keys (so keys repeat on both sides).
#include "mpilake/stedi/ml_join.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <tuple>

namespace mpilake::stedi {
namespace {

// (serialNumber, timestamp, sensorReadingTime, distanceFromObject, user, x, y, z): the zone's order.
using Row = std::tuple<std::int64_t, std::int64_t, std::int64_t, std::int64_t, std::int64_t, double, double, double>;

TEST(MlJoin, MatchesNestedLoopReference) {
  std::mt19937_64 random(21);
  for (const bool by_serial : {true, false}) {
    for (int trial = 0; trial < 10; ++trial) {
      Table readings(ml_readings_schema());
      Table steps(ml_step_keys_schema());
      for (int r = 0; r < 300; ++r) {
        readings.ints(0).push_back(static_cast<std::int64_t>(random() % 5));
        readings.ints(1).push_back(static_cast<std::int64_t>(random() % 7));
        readings.ints(2).push_back(static_cast<std::int64_t>(random() % 20));
        for (std::size_t c = 3; c < 6; ++c) readings.floats(c).push_back(static_cast<double>(random() % 3) / 2);
        readings.commit_row();
      }
      for (int r = 0; r < 200; ++r) {
        steps.ints(0).push_back(static_cast<std::int64_t>(random() % 5));
        steps.ints(1).push_back(static_cast<std::int64_t>(random() % 20));
        steps.ints(2).push_back(static_cast<std::int64_t>(random() % 4));
        steps.commit_row();
      }
      std::vector<Row> expected;
      for (std::size_t a = 0; a < readings.num_rows(); ++a)
        for (std::size_t s = 0; s < steps.num_rows(); ++s) {
          if (readings.ints(2)[a] != steps.ints(1)[s]) continue;
          if (by_serial && readings.ints(0)[a] != steps.ints(0)[s]) continue;
          expected.emplace_back(steps.ints(0)[s], readings.ints(2)[a], steps.ints(1)[s], steps.ints(2)[s],
                                readings.ints(1)[a], readings.floats(3)[a], readings.floats(4)[a],
                                readings.floats(5)[a]);
        }
      if (by_serial) std::sort(expected.begin(), expected.end());

      const Table joined = join_readings_with_steps(readings, steps, by_serial);
      std::vector<Row> got;
      for (std::size_t r = 0; r < joined.num_rows(); ++r)
        got.emplace_back(joined.ints(1)[r], joined.ints(4)[r], joined.ints(0)[r], joined.ints(2)[r], joined.ints(3)[r],
                         joined.floats(5)[r], joined.floats(6)[r], joined.floats(7)[r]);
      ASSERT_FALSE(expected.empty());
      if (!by_serial) {
        // Without the serial in the key the result is in time order only; the job sorts it after.
        std::sort(expected.begin(), expected.end());
        std::sort(got.begin(), got.end());
      }
      EXPECT_EQ(got, expected) << "by_serial " << by_serial << " trial " << trial;
    }
  }
}

}  // namespace
}  // namespace mpilake::stedi
