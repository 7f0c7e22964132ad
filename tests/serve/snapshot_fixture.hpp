#pragma once
// A small Deloton run built in memory for the serve tests: riders 7 (male, born 1990-02-28, with a
// full name, email and address) and 9 (female, no birth date), three rides on 2022-10-01/02 with
// readings, one alert, two days.
#include <cmath>
#include <memory>

#include "mpilake/deloton/schema.hpp"
#include "mpilake/serve/dates.hpp"
#include "mpilake/serve/snapshot.hpp"

namespace mpilake::serve::testing {

inline std::int64_t at(const char* date, std::int64_t seconds) {
  return *parse_date(date) * kMicrosPerDay + seconds * 1'000'000;
}

inline std::shared_ptr<const Snapshot> make_snapshot() {
  auto s = std::make_shared<Snapshot>();
  s->run_id = "2026-01-01T00:00:00Z-000000000001";
  s->created_utc = "2026-01-01T00:00:00Z";
  s->summary = {{"pipeline", "deloton"}, {"zones", {{"rides", {{"rows", 3}}}}}};
  s->riders = Table(deloton::riders_schema());
  s->rides = Table(deloton::rides_schema());
  s->readings = Table(deloton::readings_schema());
  s->alerts = Table(deloton::alerts_schema());
  s->daily = Table(deloton::daily_schema());
  const auto rider = [&](std::int64_t id, const char* first, const char* last, const char* gender, const char* born,
                         const char* email) {
    Table& t = s->riders;
    t.ints(0).push_back(id);
    t.strings(1).push_back("Dr");
    t.strings(2).push_back(first);
    t.strings(3).push_back(last);
    t.strings(4).push_back(gender);
    t.strings(5).push_back(born);
    t.ints(6).push_back(180);
    t.ints(7).push_back(kNullInt64);
    t.strings(8).push_back(email);
    t.strings(9).push_back("1 Secret Street");
    t.strings(10).push_back("Hiddenton");
    t.strings(11).push_back("ZZ9 9ZZ");
    t.strings(12).push_back("2020-01-01");
    t.strings(13).push_back("SN-1");
    t.strings(14).push_back("web");
    t.ints(15).push_back(id == 7 ? 2 : 1);
    t.ints(16).push_back(at("2022-10-01", 3600));
    t.ints(17).push_back(at("2022-10-02", 60));
    t.commit_row();
  };
  rider(7, "Alexandra", "Quux", "male", "1990-02-28", "alex@example.com");
  rider(9, "Bea", "Zed", "female", "", "bea@example.com");
  const auto ride = [&](std::int64_t id, std::int64_t user, std::int64_t start, std::int64_t readings,
                        std::int64_t alert) {
    Table& t = s->rides;
    t.ints(0).push_back(id);
    t.strings(1).push_back("partition=0");
    t.strings(2).push_back("bike one");
    t.ints(3).push_back(user);
    t.ints(4).push_back(start);
    t.ints(5).push_back(readings > 0 ? start + readings * 1'000'000 : kNullInt64);
    t.floats(6).push_back(static_cast<double>(readings));
    t.ints(7).push_back(readings);
    t.ints(8).push_back(readings > 0 ? 60 : kNullInt64);
    t.ints(9).push_back(readings > 0 ? 180 : kNullInt64);
    t.floats(10).push_back(readings > 0 ? 120.5 : NAN);
    for (int c = 11; c <= 13; ++c) t.floats(c).push_back(readings > 0 ? 50.25 : NAN);
    t.floats(14).push_back(readings * 0.1);
    t.ints(15).push_back(alert);
    t.commit_row();
  };
  ride(1, 7, at("2022-10-01", 3600), 3, 1);
  ride(2, 9, at("2022-10-01", 7200), 0, 0);
  ride(3, 7, at("2022-10-02", 60), 2, 0);
  s->ride_offset = {0, 3, 3, 5};
  const auto reading = [&](std::int64_t ride_id, std::int64_t time, std::int64_t hr) {
    Table& t = s->readings;
    t.ints(0).push_back(ride_id);
    t.ints(1).push_back(time);
    t.floats(2).push_back(1.0);
    t.ints(3).push_back(30);
    t.ints(4).push_back(hr);
    t.ints(5).push_back(70);
    t.floats(6).push_back(100.0);
    t.commit_row();
  };
  for (int i = 0; i < 3; ++i) reading(1, at("2022-10-01", 3601 + i), i == 0 ? kNullInt64 : 190);
  for (int i = 0; i < 2; ++i) reading(3, at("2022-10-02", 61 + i), 100);
  Table& a = s->alerts;
  a.ints(0).push_back(1);
  a.ints(1).push_back(7);
  a.strings(2).push_back("bike one");
  a.ints(3).push_back(at("2022-10-01", 3603));
  a.strings(4).push_back("high");
  a.ints(5).push_back(190);
  a.ints(6).push_back(40);
  a.ints(7).push_back(188);
  a.ints(8).push_back(32);
  a.strings(9).push_back("male");
  a.strings(10).push_back("alex@example.com");
  a.strings(11).push_back("Alexandra");
  a.commit_row();
  for (const char* date : {"2022-10-01", "2022-10-02"}) {
    Table& d = s->daily;
    d.strings(0).push_back(date);
    for (std::size_t c = 1; c < d.num_columns(); ++c) {
      if (d.schema()[c].type == ColumnType::Int64)
        d.ints(c).push_back(1);
      else
        d.floats(c).push_back(2.5);
    }
    d.commit_row();
  }
  index_snapshot(*s);
  return s;
}

}  // namespace mpilake::serve::testing
