#include "mpilake/export/catalog.hpp"

#include <stdexcept>

namespace mpilake::exporter {

const char* sql_type_name(SqlType type) {
  switch (type) {
    case SqlType::BigInt: return "bigint";
    case SqlType::Double: return "double precision";
    case SqlType::Text:
    case SqlType::TextKeepEmpty: return "text";
    case SqlType::Date: return "date";
    case SqlType::TimestampFromMicros:
    case SqlType::TimestampFromMillis: return "timestamptz";
  }
  return "text";
}

namespace {

constexpr SqlType I = SqlType::BigInt;
constexpr SqlType F = SqlType::Double;
constexpr SqlType S = SqlType::Text;
constexpr SqlType D = SqlType::Date;
constexpr SqlType Tus = SqlType::TimestampFromMicros;
constexpr SqlType Tms = SqlType::TimestampFromMillis;
constexpr bool kPersonal = true;

ExportColumn same(const std::string& name, SqlType type, bool personal = false) {
  return ExportColumn{name, name, type, personal};
}
ExportColumn renamed(const std::string& dataset, const std::string& sql_name, SqlType type, bool personal = false) {
  return ExportColumn{dataset, sql_name, type, personal};
}

// Both pipelines' quarantine.h5 (the engine's Quarantine schema): kept for data engineers, never
// shown to the BI role (a rejected line may hold a rider's user JSON).
ExportTable quarantine_table() {
  const SqlType K = SqlType::TextKeepEmpty;
  return ExportTable{
      "quarantine",
      {same("source", K), same("file", K), same("byte_offset", I), same("reason", K), same("raw", K, kPersonal)},
      {},
      {{"reason"}},
      /*optional=*/true,
      /*bi_visible=*/false};
}

// The age band of an age expression, with the labels of the daily zone's riders_age_* columns.
std::string age_band_sql(const std::string& age) {
  return "CASE WHEN " + age + " IS NULL THEN NULL WHEN " + age + " < 18 THEN 'under 18' WHEN " + age +
         " < 25 THEN '18-24' WHEN " + age + " < 35 THEN '25-34' WHEN " + age + " < 45 THEN '35-44' WHEN " + age +
         " < 55 THEN '45-54' WHEN " + age + " < 65 THEN '55-64' ELSE '65+' END";
}

// Gender as the rules read it: male or female as written, anything else other; NULL for unknown riders.
std::string gender_sql(const std::string& user_alias) {
  return "CASE WHEN " + user_alias + ".user_id IS NULL THEN NULL WHEN " + user_alias +
         ".gender IN ('male', 'female') THEN " + user_alias + ".gender ELSE 'other' END";
}

// Full years between the rider's birth date and the UTC date of `instant` (a birthday counts from
// that day on, 29 February from 1 March: PostgreSQL's age() does the same).
std::string age_at_sql(const std::string& instant, const std::string& birth) {
  return "date_part('year', age((" + instant + " AT TIME ZONE 'UTC')::date, " + birth + "))::bigint";
}

PipelineCatalog deloton_catalog() {
  PipelineCatalog catalog;
  catalog.pipeline = "deloton";
  catalog.tables.push_back(ExportTable{
      "riders",
      {same("user_id", I), same("title", S, kPersonal), same("first_name", S, kPersonal),
       same("last_name", S, kPersonal), same("gender", S), same("date_of_birth", D, kPersonal), same("height_cm", I),
       same("weight_kg", I), same("email", S, kPersonal), same("address_street", S, kPersonal),
       same("address_town", S, kPersonal), same("address_postcode", S, kPersonal), same("account_created", D),
       same("bike_serial", S), same("original_source", S), same("rides", I), same("first_ride_start", Tus),
       same("last_ride_start", Tus)},
      {"user_id"},
      {}});
  catalog.tables.push_back(
      ExportTable{"rides",
                  {same("ride_id", I), same("stream", SqlType::TextKeepEmpty), same("bike", S), same("user_id", I),
                   same("start_time", Tus), same("end_time", Tus), same("duration_s", F), same("readings", I),
                   same("heart_rate_min", I), same("heart_rate_max", I), same("heart_rate_avg", F), same("rpm_avg", F),
                   same("resistance_avg", F), same("power_avg_w", F), same("energy_kj", F), same("alert", I)},
                  {"ride_id"},
                  {{"user_id"}, {"start_time"}}});
  catalog.tables.push_back(
      ExportTable{"readings",
                  {same("ride_id", I), same("time", Tus), same("elapsed_s", F), same("resistance", I),
                   same("heart_rate", I), same("rpm", I), same("power_w", F)},
                  // Unique: a ride's duplicate ride lines (same timestamp) are skipped.
                  {"ride_id", "time"},
                  {}});
  catalog.tables.push_back(
      ExportTable{"heart_rate_alerts",
                  {same("ride_id", I), same("user_id", I), same("bike", S), same("alert_time", Tus), same("kind", S),
                   same("heart_rate", I), same("hr_lower", I), same("hr_upper", I), same("age", I), same("gender", S),
                   same("email", S, kPersonal), same("first_name", S, kPersonal)},
                  {"ride_id"},
                  {{"user_id"}, {"alert_time"}}});
  ExportTable daily{"daily",
                    {same("date", D), same("rides", I), same("riders", I), same("duration_s", F), same("energy_kj", F),
                     same("power_avg_w", F), same("heart_rate_avg", F), same("alerts", I), same("riders_male", I),
                     same("riders_female", I), same("riders_other", I), same("duration_s_male", F),
                     same("duration_s_female", F), same("duration_s_other", F)},
                    {"date"},
                    {}};
  for (const char* band : {"under_18", "18_24", "25_34", "35_44", "45_54", "55_64", "65_plus"})
    daily.columns.push_back(same(std::string("riders_age_") + band, I));
  catalog.tables.push_back(daily);
  catalog.tables.push_back(quarantine_table());

  const std::string rider_age = age_at_sql("r.start_time", "u.date_of_birth");
  catalog.views.push_back(
      {"rides_by_rider",
       "SELECT r.ride_id, r.stream, r.bike, r.user_id, " + gender_sql("u") + " AS gender, " + age_band_sql(rider_age) +
           " AS age_band, r.start_time, (r.start_time AT TIME ZONE 'UTC')::date AS start_date, "
           "extract(hour FROM r.start_time AT TIME ZONE 'UTC')::bigint AS start_hour_utc, r.end_time, r.duration_s, "
           "r.readings, r.heart_rate_min, r.heart_rate_max, r.heart_rate_avg, r.rpm_avg, r.resistance_avg, "
           "r.power_avg_w, r.energy_kj, r.alert FROM {schema}.rides r LEFT JOIN {schema}.riders u ON u.user_id = "
           "r.user_id"});
  catalog.views.push_back(
      {"readings_by_rider",
       "SELECT rd.ride_id, rd.time, rd.elapsed_s, rd.resistance, rd.heart_rate, rd.rpm, rd.power_w, rr.user_id, "
       "rr.bike, rr.gender, rr.age_band FROM {schema}.readings rd JOIN {schema}.rides_by_rider rr ON rr.ride_id = "
       "rd.ride_id"});
  catalog.views.push_back(
      {"riders_public",
       "SELECT u.user_id, " + gender_sql("u") + " AS gender, " +
           age_band_sql(age_at_sql("u.last_ride_start", "u.date_of_birth")) +
           " AS age_band_at_last_ride, u.height_cm, u.weight_kg, u.account_created, u.bike_serial, "
           "u.original_source, u.rides, u.first_ride_start, u.last_ride_start FROM {schema}.riders u"});
  catalog.views.push_back({"alerts_public",
                           "SELECT a.ride_id, a.user_id, a.bike, a.alert_time, a.kind, a.heart_rate, a.hr_lower, "
                           "a.hr_upper, " +
                               age_band_sql("a.age") + " AS age_band, a.gender FROM {schema}.heart_rate_alerts a"});
  catalog.views.push_back(
      {"daily_by_gender",
       "SELECT d.date, g.gender, g.riders, g.duration_s FROM {schema}.daily d CROSS JOIN LATERAL (VALUES ('male', "
       "d.riders_male, d.duration_s_male), ('female', d.riders_female, d.duration_s_female), ('other', "
       "d.riders_other, d.duration_s_other)) AS g(gender, riders, duration_s)"});
  catalog.views.push_back(
      {"daily_by_age_band",
       "SELECT d.date, b.age_band, b.riders FROM {schema}.daily d CROSS JOIN LATERAL (VALUES ('under 18', "
       "d.riders_age_under_18), ('18-24', d.riders_age_18_24), ('25-34', d.riders_age_25_34), ('35-44', "
       "d.riders_age_35_44), ('45-54', d.riders_age_45_54), ('55-64', d.riders_age_55_64), ('65+', "
       "d.riders_age_65_plus)) AS b(age_band, riders)"});
  return catalog;
}

// STEDI's camelCase datasets become snake_case columns (no quoting in SQL); `user` (a reserved word
// in PostgreSQL) becomes user_email. Its times are epoch milliseconds.
ExportTable stedi_customer_table(const std::string& zone) {
  return ExportTable{
      zone,
      {renamed("customerName", "customer_name", S, kPersonal), same("email", S, kPersonal), same("phone", S, kPersonal),
       // Not validated by the pipeline (free text in the dumps): stays text.
       renamed("birthDay", "birth_day", S, kPersonal), renamed("serialNumber", "serial_number", S),
       renamed("registrationDate", "registration_date", Tms), renamed("lastUpdateDate", "last_update_date", Tms),
       renamed("shareWithResearchAsOfDate", "share_with_research_as_of_date", Tms),
       renamed("shareWithPublicAsOfDate", "share_with_public_as_of_date", Tms),
       renamed("shareWithFriendsAsOfDate", "share_with_friends_as_of_date", Tms)},
      {},  // duplicates are kept in customer_trusted; no natural key
      {{"email"}, {"serial_number"}}};
}

PipelineCatalog stedi_catalog() {
  PipelineCatalog catalog;
  catalog.pipeline = "stedi";
  catalog.tables.push_back(stedi_customer_table("customer_trusted"));
  catalog.tables.push_back(ExportTable{
      "accelerometer_trusted",
      {renamed("user", "user_email", S, kPersonal), same("timestamp", Tms), same("x", F), same("y", F), same("z", F)},
      {},
      {{"user_email"}, {"timestamp"}}});
  catalog.tables.push_back(stedi_customer_table("customer_curated"));
  catalog.tables.push_back(ExportTable{
      "step_trainer_trusted",
      {renamed("sensorReadingTime", "sensor_reading_time", Tms), renamed("serialNumber", "serial_number", S),
       renamed("distanceFromObject", "distance_from_object", I)},
      {},
      {{"serial_number", "sensor_reading_time"}}});
  catalog.tables.push_back(ExportTable{
      "machine_learning_curated",
      {renamed("sensorReadingTime", "sensor_reading_time", Tms), renamed("serialNumber", "serial_number", S),
       renamed("distanceFromObject", "distance_from_object", I), renamed("user", "user_email", S, kPersonal),
       same("timestamp", Tms), same("x", F), same("y", F), same("z", F)},
      {},
      {{"serial_number", "sensor_reading_time"}, {"user_email"}}});
  catalog.tables.push_back(quarantine_table());
  return catalog;
}

}  // namespace

const PipelineCatalog& catalog_for(const std::string& pipeline) {
  static const PipelineCatalog deloton = deloton_catalog();
  static const PipelineCatalog stedi = stedi_catalog();
  if (pipeline == "deloton") return deloton;
  if (pipeline == "stedi") return stedi;
  throw std::invalid_argument("no export catalog for pipeline '" + pipeline + "'");
}

}  // namespace mpilake::exporter
