#pragma once
// The local half of the machine-learning join, on ids (serial and email ids are numbered in byte
// order, so ordering ids orders the strings).
#include "mpilake/table/table.hpp"

namespace mpilake::stedi {

// Columns of `readings`: serial, user, timestamp (int64), x, y, z (float64). Columns of `steps`:
// serial, time, distance (int64). Joins on (serial, time = timestamp) when `by_serial`, else on the
// time alone. The result has machine_learning_curated's columns with ids for serialNumber and user,
// sorted by (serialNumber, timestamp) then every other column: the order of the final zone. The
// inputs' columns are consumed (reused as the output's memory).
Table join_readings_with_steps(Table&& readings, Table&& steps, bool by_serial);
// The same on copies of the inputs.
inline Table join_readings_with_steps(const Table& readings, const Table& steps, bool by_serial) {
  return join_readings_with_steps(Table(readings), Table(steps), by_serial);
}

// The join's inputs: readings (serial, user, timestamp, x, y, z) and step keys (serial, time,
// distance), serial and user as ids.
Schema ml_readings_schema();
Schema ml_step_keys_schema();
// machine_learning_curated's schema with ids in place of its strings (the join's output).
Schema machine_learning_id_schema();

}  // namespace mpilake::stedi
