#pragma once
// What a landing record looks like: its fields, their types, which are required, and their aliases.
#include <string>
#include <vector>

#include "mpilake/table/table.hpp"

namespace mpilake {

struct FieldSpec {
  std::string name;
  ColumnType type;
  bool required = false;
  std::vector<std::string> aliases;  // other spellings of the key (e.g. "timeStamp")
  bool accepts_number = false;       // a string field that also takes a JSON integer (phone numbers)
};

struct RecordSchema {
  std::string source;
  std::vector<FieldSpec> fields;
  Schema table_schema() const;
};

}  // namespace mpilake
