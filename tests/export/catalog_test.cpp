// The export's explicit column lists must follow the pipelines' zones exactly (a zone gaining a
// column must be exported on purpose, with a type and a privacy decision).
#include "mpilake/export/catalog.hpp"

#include <gtest/gtest.h>

#include <set>

#include "mpilake/deloton/schema.hpp"
#include "mpilake/quarantine/quarantine.hpp"
#include "mpilake/stedi/schema.hpp"

namespace mpilake::exporter {
namespace {

ColumnType hdf5_type(SqlType type) {
  switch (type) {
    case SqlType::BigInt:
    case SqlType::TimestampFromMicros:
    case SqlType::TimestampFromMillis: return ColumnType::Int64;
    case SqlType::Double: return ColumnType::Float64;
    default: return ColumnType::String;
  }
}

void expect_matches(const ExportTable& table, const Schema& schema) {
  ASSERT_EQ(table.columns.size(), schema.size()) << table.zone;
  std::set<std::string> sql_names;
  for (std::size_t c = 0; c < schema.size(); ++c) {
    EXPECT_EQ(table.columns[c].dataset, schema[c].name) << table.zone;
    EXPECT_EQ(hdf5_type(table.columns[c].type), schema[c].type) << table.zone << "." << schema[c].name;
    EXPECT_TRUE(sql_names.insert(table.columns[c].sql_name).second) << table.zone << "." << schema[c].name;
  }
  for (const auto& key : table.primary_key) EXPECT_TRUE(sql_names.count(key)) << table.zone << " key " << key;
  for (const auto& index : table.indexes)
    for (const auto& column : index) EXPECT_TRUE(sql_names.count(column)) << table.zone << " index " << column;
}

const ExportTable& table_of(const PipelineCatalog& catalog, const std::string& zone) {
  for (const auto& table : catalog.tables)
    if (table.zone == zone) return table;
  throw std::runtime_error("no table " + zone);
}

TEST(ExportCatalog, DelotonFollowsTheZones) {
  const auto& catalog = catalog_for("deloton");
  ASSERT_EQ(catalog.tables.size(), deloton::kZones.size() + 1);
  expect_matches(table_of(catalog, "riders"), deloton::riders_schema());
  expect_matches(table_of(catalog, "rides"), deloton::rides_schema());
  expect_matches(table_of(catalog, "readings"), deloton::readings_schema());
  expect_matches(table_of(catalog, "heart_rate_alerts"), deloton::alerts_schema());
  expect_matches(table_of(catalog, "daily"), deloton::daily_schema());
  expect_matches(table_of(catalog, "quarantine"), Quarantine::schema());
  EXPECT_FALSE(catalog.views.empty());
}

TEST(ExportCatalog, StediFollowsTheZones) {
  const auto& catalog = catalog_for("stedi");
  ASSERT_EQ(catalog.tables.size(), stedi::kZones.size() + 1);
  const Schema customer = stedi::customer_schema().table_schema();
  expect_matches(table_of(catalog, "customer_trusted"), customer);
  expect_matches(table_of(catalog, "customer_curated"), customer);
  expect_matches(table_of(catalog, "accelerometer_trusted"), stedi::accelerometer_schema().table_schema());
  expect_matches(table_of(catalog, "step_trainer_trusted"), stedi::step_trainer_schema().table_schema());
  expect_matches(table_of(catalog, "machine_learning_curated"), stedi::machine_learning_schema());
}

TEST(ExportCatalog, PersonalDataIsMarked) {
  // DELOTON.md: names, email, address, birth date are personal.
  const auto& deloton = catalog_for("deloton");
  std::set<std::string> personal;
  for (const auto& column : table_of(deloton, "riders").columns)
    if (column.personal) personal.insert(column.sql_name);
  EXPECT_EQ(personal, (std::set<std::string>{"title", "first_name", "last_name", "date_of_birth", "email",
                                             "address_street", "address_town", "address_postcode"}));
  personal.clear();
  for (const auto& column : table_of(deloton, "heart_rate_alerts").columns)
    if (column.personal) personal.insert(column.sql_name);
  EXPECT_EQ(personal, (std::set<std::string>{"email", "first_name"}));
  EXPECT_FALSE(table_of(deloton, "quarantine").bi_visible);
  for (const auto& view : deloton.views) {
    for (const char* word : {"email", "first_name", "last_name", "address", "date_of_birth AS", "title"})
      EXPECT_EQ(view.select_sql.find(std::string("u.") + word), std::string::npos) << view.name << " uses " << word;
  }
}

TEST(ExportCatalog, UnknownPipelineThrows) {
  EXPECT_THROW(catalog_for("nope"), std::invalid_argument);
}

}  // namespace
}  // namespace mpilake::exporter
