// Only the C API of MPI is used; skipping Open MPI's deprecated C++ bindings keeps their warnings
// out of builds that do not mark the MPI headers as system headers.
#ifndef OMPI_SKIP_MPICXX
#define OMPI_SKIP_MPICXX 1
#endif
#include "mpilake/stedi/generate.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <initializer_list>
#include <limits>
#include <memory>
#include <stdexcept>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "mpilake/gen/blocks.hpp"
#include "mpilake/gen/format.hpp"
#include "mpilake/gen/random.hpp"
#include "mpilake/io/file_sink.hpp"

namespace mpilake::stedi {
namespace {

using gen::append_int;
using gen::Rng;
using gen::write_thousandths;

// One independent stream per purpose, so that a draw added to one never shifts another (for
// example, the values of a data set do not change with bad_line_rate, only their formatting).
enum class Stream : std::uint64_t {
  customer_values = 1,
  customer_format = 2,
  session_values = 3,
  device_serial = 4,
  ghost_values = 5,
  ghost_serial = 6,
  file_style = 7,
};

// ---------------------------------------------------------------------------
// Value model
// ---------------------------------------------------------------------------

constexpr std::int64_t kEpochStart = 1655000000000;      // ms, 2022-06-12
constexpr std::int64_t kRegistrationSpread = 400000000;  // ~4.6 days of sign-ups
constexpr std::int64_t kSerialDonors = 30;               // shared serials come from the first customers (2022 dump)
constexpr std::int64_t kNoDate = std::numeric_limits<std::int64_t>::min();
constexpr double kTwoPi = 6.283185307179586;

constexpr std::string_view kFirstNames[] = {
    "Angie",  "Ashley", "Ben",    "Bobby", "Chris",  "Christina", "Craig", "Dan",  "Danny",   "David",
    "Edward", "Eric",   "Frank",  "Gail",  "Jacob",  "Jane",      "Jason", "Jaya", "Jerry",   "John",
    "Larry",  "Liz",    "Lyn",    "Manoj", "Neeraj", "Santosh",   "Sarah", "Sean", "Senthil", "Spencer",
    "Suresh", "Travis", "Trevor", "Maria", "Wei",    "Aisha",     "Kenji", "Olga", "Pedro",   "Fatima"};
constexpr std::string_view kLastNames[] = {
    "Abram",   "Ahmed",     "Anandh",   "Anderson",  "Aristotle", "Clark",    "Clayton", "Davis",
    "Doshi",   "Fibonnaci", "Gonzalez", "Habschied", "Hansen",    "Harris",   "Howard",  "Huey",
    "Jackson", "Jefferson", "Jones",    "Khatib",    "Lincoln",   "Mitra",    "Olson",   "Phillips",
    "Sanchez", "Smith",     "Spencer",  "Staples",   "Wu",        "Nakamura", "Ivanova", "Silva"};
constexpr std::string_view kAreaCodes[] = {"801", "385", "435", "208", "702", "307"};

template <class T, std::size_t N>
constexpr std::int64_t count_of(const T (&)[N]) {
  return static_cast<std::int64_t>(N);
}

// How a person moves on the step trainer. The distance sensor sees the foot rise on each step, the
// phone (accelerometer) sees gravity plus a bounce at the step rate and a sway at half of it.
struct MotionParams {
  double cadence_hz = 1.5;       // steps per second while stepping
  double base_cm = 260;          // distance when standing
  double lift_cm = 60;           // how much closer the foot comes at the top of a step
  double bounce_g = 0.5;         // vertical acceleration amplitude
  double distance_noise_cm = 2;  // sensor noise
  double accel_noise_g = 0.04;
  double mean_stepping_s = 15;
  double mean_pause_s = 4;
  std::array<double, 3> gravity{0, -1, 0};   // unit vector: the phone's orientation
  std::array<double, 3> sway_axis{1, 0, 0};  // unit vector orthogonal to gravity
};

struct Session {
  std::int64_t readings = 0;
  std::int64_t start_ms = 0;
  std::int64_t interval_ms = 200;
  MotionParams motion;
};

std::string uuid_string(Rng& rng) {
  const std::uint64_t high = rng.next();
  const std::uint64_t low = rng.next();
  std::array<unsigned, 32> nibbles{};
  for (int i = 0; i < 16; ++i) nibbles[i] = static_cast<unsigned>(high >> (60 - 4 * i)) & 0xf;
  for (int i = 0; i < 16; ++i) nibbles[16 + i] = static_cast<unsigned>(low >> (60 - 4 * i)) & 0xf;
  nibbles[12] = 4;                        // version 4
  nibbles[16] = 8 | (nibbles[16] & 0x3);  // RFC 4122 variant
  static constexpr char kHex[] = "0123456789abcdef";
  std::string text;
  text.reserve(36);
  for (int i = 0; i < 32; ++i) {
    if (i == 8 || i == 12 || i == 16 || i == 20) text.push_back('-');
    text.push_back(kHex[nibbles[i]]);
  }
  return text;
}

std::string device_serial(std::uint64_t seed, std::int64_t customer_index) {
  Rng rng(seed, Stream::device_serial, static_cast<std::uint64_t>(customer_index));
  return uuid_string(rng);
}

std::int64_t round_to_int(double value) {
  return value >= 0 ? static_cast<std::int64_t>(value + 0.5) : -static_cast<std::int64_t>(0.5 - value);
}

std::string person_email(std::string_view first, std::string_view last, std::int64_t number) {
  std::string email;
  email.reserve(first.size() + last.size() + 30);
  email.append(first).push_back('.');
  email.append(last);
  append_int(email, number);
  email.append("@test.com");
  return email;
}

MotionParams draw_motion(Rng& rng) {
  MotionParams motion;
  motion.cadence_hz = rng.uniform(1.0, 2.0);
  motion.base_cm = rng.uniform(235, 285);
  motion.lift_cm = rng.uniform(45, 90);
  motion.bounce_g = rng.uniform(0.3, 0.8);
  motion.distance_noise_cm = rng.uniform(1.0, 3.0);
  motion.accel_noise_g = rng.uniform(0.02, 0.06);
  motion.mean_stepping_s = rng.uniform(8, 30);
  motion.mean_pause_s = rng.uniform(2, 8);
  // Phone roughly upright in a pocket: gravity near -y, tilted at random.
  std::array<double, 3> gravity{0.3 * rng.normal(), -1.0, 0.3 * rng.normal()};
  const double gravity_norm = std::sqrt(gravity[0] * gravity[0] + gravity[1] * gravity[1] + gravity[2] * gravity[2]);
  for (auto& component : gravity) component /= gravity_norm;
  // Sway axis = gravity x (0, 0, 1), non-degenerate since gravity is near -y.
  std::array<double, 3> sway{gravity[1], -gravity[0], 0.0};
  const double sway_norm = std::sqrt(sway[0] * sway[0] + sway[1] * sway[1]);
  for (auto& component : sway) component /= sway_norm;
  motion.gravity = gravity;
  motion.sway_axis = sway;
  return motion;
}

Session draw_session(Rng& rng, std::int64_t mean_readings, std::int64_t earliest_start_ms) {
  Session session;
  // Drawn even when there are no readings, so the later draws do not depend on the mean.
  const double readings_factor = rng.uniform(0.5, 1.5);
  session.readings = std::llround(static_cast<double>(mean_readings) * readings_factor);
  session.interval_ms = 100 + rng.below(401);
  session.start_ms = earliest_start_ms + 60000 + rng.below(172800000);
  session.motion = draw_motion(rng);
  return session;
}

// A customer row plus the data its device and phone produce. All of it follows from
// (seed, index) alone, whichever block or rank writes it.
struct CustomerRecord {
  std::int64_t index = 0;
  std::string name, email, phone, birth_day, serial;
  std::int64_t registration = 0, last_update = 0;
  std::int64_t research = kNoDate, publicly = kNoDate, friends = kNoDate;
  bool duplicate_row = false;  // the row appears twice in the customer file
  bool has_ghost = false;      // an unregistered user's phone/device also sends data
  Session session;
};

CustomerRecord draw_customer(const GenerateOptions& options, std::int64_t index, std::int64_t mean_readings) {
  Rng rng(options.seed, Stream::customer_values, static_cast<std::uint64_t>(index));
  CustomerRecord customer;
  customer.index = index;
  const std::string_view first = kFirstNames[rng.below(count_of(kFirstNames))];
  const std::string_view last = kLastNames[rng.below(count_of(kLastNames))];
  customer.name.append(first).push_back(' ');
  customer.name.append(last);
  customer.email = person_email(first, last, index);

  customer.phone.append(kAreaCodes[rng.below(count_of(kAreaCodes))]).append("555");
  const std::int64_t line_number = rng.below(10000);
  customer.phone.push_back(static_cast<char>('0' + line_number / 1000));
  customer.phone.push_back(static_cast<char>('0' + line_number / 100 % 10));
  customer.phone.push_back(static_cast<char>('0' + line_number / 10 % 10));
  customer.phone.push_back(static_cast<char>('0' + line_number % 10));

  const std::int64_t year = 1940 + rng.below(66), month = 1 + rng.below(12), day = 1 + rng.below(28);
  append_int(customer.birth_day, year);
  for (const std::int64_t part : {month, day}) {
    customer.birth_day.push_back('-');
    customer.birth_day.push_back(static_cast<char>('0' + part / 10));
    customer.birth_day.push_back(static_cast<char>('0' + part % 10));
  }

  if (index >= kSerialDonors && rng.chance(options.shared_serial_fraction)) {
    customer.serial = device_serial(options.seed, rng.below(std::min(options.customers, kSerialDonors)));
  } else {
    rng.next();  // keep the draws aligned whether or not this customer shares
    customer.serial = device_serial(options.seed, index);
  }

  customer.registration = kEpochStart + rng.below(kRegistrationSpread);
  customer.last_update = rng.chance(0.6) ? customer.registration : customer.registration + rng.below(50000000);
  customer.session = draw_session(rng, mean_readings, customer.registration);

  const std::int64_t session_end = customer.session.start_ms + customer.session.readings * customer.session.interval_ms;
  const double consent_kind = rng.uniform();
  const double consent_position = rng.uniform();
  if (rng.chance(options.consent_fraction)) {
    if (consent_kind < 0.60) {
      customer.research = customer.registration;  // consent at sign-up: all readings kept
    } else if (consent_kind < 0.93) {
      // Consent given during the session: the readings before it must be dropped.
      customer.research = customer.session.start_ms +
                          std::llround(consent_position * static_cast<double>(session_end - customer.session.start_ms));
    } else {
      customer.research = session_end + 1000 + static_cast<std::int64_t>(consent_position * 86400000);
    }
  }
  if (rng.chance(0.5)) customer.publicly = customer.registration + rng.below(3600000);
  if (rng.chance(0.5)) customer.friends = customer.registration + rng.below(3600000);
  customer.duplicate_row = rng.chance(0.005);
  customer.has_ghost = rng.chance(0.02);
  return customer;
}

// ---------------------------------------------------------------------------
// Formatting
// ---------------------------------------------------------------------------

// Per-file quirks (older dumps were written by different tools).
struct FileStyle {
  bool byte_order_mark = false;
  bool crlf = false;
  bool final_newline = true;
  bool spaced = false;               // `"key": value, "key": ...` like the customer starter file
  bool float_epochs = false;         // every epoch written as 1655564376361.0
  bool time_stamp_key = false;       // accelerometer: older dumps spell timestamp "timeStamp"
  double explicit_null_share = 0.0;  // customer: a NULL written as null (else the key is left out)
  double phone_number_share = 0.05;  // customer: phone written as a JSON number
};

FileStyle draw_file_style(const GenerateOptions& options, std::int64_t block, Source source) {
  Rng rng(options.seed, Stream::file_style, static_cast<std::uint64_t>(block) * 3 + static_cast<std::uint64_t>(source));
  FileStyle style;
  style.byte_order_mark = rng.chance(0.05);
  style.crlf = rng.chance(0.15);
  style.final_newline = !rng.chance(0.15);
  style.spaced = rng.chance(source == Source::customer ? 0.7 : 0.05);
  style.float_epochs = rng.chance(0.1);
  style.time_stamp_key = source == Source::accelerometer && rng.chance(0.2);
  const double null_style = rng.uniform();
  style.explicit_null_share = null_style < 0.5 ? 0.0 : (null_style < 0.8 ? 1.0 : 0.5);
  style.phone_number_share = rng.chance(0.1) ? 1.0 : 0.05;
  return style;
}

// Shares of lines with format quirks. A line is "quirky" with kQuirkyLineRate; the quirks are then
// drawn one by one, so plain lines cost a single draw.
constexpr double kQuirkyLineRate = 0.04;
constexpr double kShuffledKeysShare = 0.4;  // of quirky lines
constexpr double kExtraKeyShare = 0.25;
constexpr double kBlankLineBeforeShare = 0.05;
constexpr double kIntegralFloatShare = 0.2;  // per integer field of a quirky line
constexpr double kDecimalStringShare = 0.1;
constexpr double kEmptyStringShare = 0.1;  // optional customer strings written as ""
constexpr double kTimeStampKeyShare = 0.1;
constexpr double kDuplicateTimestampRate = 0.01;  // an extra accelerometer sample, same timestamp
constexpr double kStepOnlyRate = 0.008;           // reading lost on the phone side
constexpr double kAccelOnlyRate = 0.008;          // reading lost on the device side

constexpr std::string_view kExtraKeys[][2] = {
    {"source", "\"app\""},     {"schemaVersion", "2"},
    {"tags", "[\"a\",\"b\"]"}, {"meta", "{\"fw\":\"1.2.3\",\"battery\":0.82}"},
    {"note", "null"},          {"battery", "0.5"},
};

enum class IntForm { plain, integral_float, decimal_string };
enum class Damage { none, truncated, missing_field, wrong_type };

constexpr std::size_t kMaxFields = 10;
constexpr std::string_view kCustomerKeys[] = {"customerName",
                                              "email",
                                              "phone",
                                              "birthDay",
                                              "serialNumber",
                                              "registrationDate",
                                              "lastUpdateDate",
                                              "shareWithResearchAsOfDate",
                                              "shareWithPublicAsOfDate",
                                              "shareWithFriendsAsOfDate"};
constexpr std::string_view kAccelerometerKeys[] = {"user", "timestamp", "x", "y", "z"};
constexpr std::string_view kStepTrainerKeys[] = {"sensorReadingTime", "serialNumber", "distanceFromObject"};

enum class FieldKind { string, integer, number };

// How one line is written: key order, quirks, and (when broken) what is wrong with it.
struct LinePlan {
  std::array<std::uint8_t, kMaxFields> order{};
  std::size_t field_count = 0;
  bool quirky = false;
  bool blank_line_before = false;
  int extra_key_slot = -1;  // an unknown key goes before this position (field_count = at the end)
  std::int64_t extra_key = 0;
  Damage damage = Damage::none;
  std::size_t damaged_field = kMaxFields;  // field id for missing_field / wrong_type
  std::int64_t damage_variant = 0;
};

// Builds one JSON object into a reused string.
class JsonLine {
 public:
  JsonLine(std::string& out, bool spaced) : out_(out), spaced_(spaced) {
    out_.clear();
    out_.push_back('{');
  }
  void key(std::string_view name) {
    if (fields_++ > 0) out_.append(spaced_ ? ", " : ",");
    out_.push_back('"');
    out_.append(name);
    out_.append(spaced_ ? "\": " : "\":");
  }
  void string_value(std::string_view value) {
    out_.push_back('"');
    out_.append(value);
    out_.push_back('"');
  }
  void raw(std::string_view value) { out_.append(value); }
  void integer(std::int64_t value, IntForm form) {
    if (form == IntForm::decimal_string) out_.push_back('"');
    append_int(out_, value);
    if (form == IntForm::integral_float) out_.append(".0");
    if (form == IntForm::decimal_string) out_.push_back('"');
  }
  void thousandths(std::int64_t value) {
    char digits[32];
    out_.append(digits, write_thousandths(digits, value));
  }
  void finish() { out_.push_back('}'); }

 private:
  std::string& out_;
  bool spaced_;
  int fields_ = 0;
};

// Picks the line's quirks and damage. `required` lists the fields a reader must find.
LinePlan plan_line(Rng& format, std::size_t field_count, std::initializer_list<std::uint8_t> required,
                   double bad_line_rate) {
  LinePlan plan;
  plan.field_count = field_count;
  for (std::size_t i = 0; i < field_count; ++i) plan.order[i] = static_cast<std::uint8_t>(i);
  plan.quirky = format.uniform() < kQuirkyLineRate;
  const bool broken = format.uniform() < bad_line_rate;
  if (plan.quirky) {
    if (format.chance(kShuffledKeysShare)) {
      for (std::size_t i = field_count - 1; i > 0; --i) {
        std::swap(plan.order[i], plan.order[static_cast<std::size_t>(format.below(static_cast<std::int64_t>(i) + 1))]);
      }
    }
    if (format.chance(kExtraKeyShare)) {
      plan.extra_key_slot = static_cast<int>(format.below(static_cast<std::int64_t>(field_count) + 1));
      plan.extra_key = format.below(count_of(kExtraKeys));
    }
    plan.blank_line_before = format.chance(kBlankLineBeforeShare);
  }
  if (broken) {
    const std::int64_t kind = format.below(3);
    plan.damage = kind == 0 ? Damage::truncated : (kind == 1 ? Damage::missing_field : Damage::wrong_type);
    plan.damaged_field = *(required.begin() + format.below(static_cast<std::int64_t>(required.size())));
    plan.damage_variant = format.below(3);
  }
  return plan;
}

IntForm draw_int_form(Rng& format, const LinePlan& plan, bool float_epochs) {
  if (float_epochs) return IntForm::integral_float;
  if (!plan.quirky) return IntForm::plain;
  const double roll = format.uniform();
  if (roll < kIntegralFloatShare) return IntForm::integral_float;
  if (roll < kIntegralFloatShare + kDecimalStringShare) return IntForm::decimal_string;
  return IntForm::plain;
}

// Writes a required field the way a broken line does: absent (missing_field) or of a type no
// reader may accept (wrong_type). Returns false when the field should simply be left out.
bool write_damaged_value(JsonLine& line, const LinePlan& plan, FieldKind kind) {
  if (plan.damage == Damage::missing_field) {
    // Left out, null or "": all three mean NULL, which a required field may not be.
    if (plan.damage_variant == 0) return false;
    line.raw(plan.damage_variant == 1 ? "null" : "\"\"");
    return true;
  }
  static constexpr std::string_view kWrongString[] = {"true", "12345", "{\"v\":1}"};
  static constexpr std::string_view kWrongInteger[] = {"\"n/a\"", "true", "1655564376361.5"};
  static constexpr std::string_view kWrongNumber[] = {"\"n/a\"", "false", "[0.5]"};
  const auto variant = static_cast<std::size_t>(plan.damage_variant);
  switch (kind) {
    case FieldKind::string: line.raw(kWrongString[variant]); break;
    case FieldKind::integer: line.raw(kWrongInteger[variant]); break;
    case FieldKind::number: line.raw(kWrongNumber[variant]); break;
  }
  return true;
}

// Runs the plan: writes fields in plan order, the extra key, damage, and truncation.
template <class WriteField>
void write_line(std::string& out, const LinePlan& plan, bool spaced, Rng& format, const std::string_view* keys,
                const FieldKind* kinds, WriteField&& write_field) {
  JsonLine line(out, spaced);
  for (std::size_t position = 0; position <= plan.field_count; ++position) {
    if (plan.extra_key_slot == static_cast<int>(position)) {
      line.key(kExtraKeys[plan.extra_key][0]);
      line.raw(kExtraKeys[plan.extra_key][1]);
    }
    if (position == plan.field_count) break;
    const std::size_t field = plan.order[position];
    if (field == plan.damaged_field && (plan.damage == Damage::missing_field || plan.damage == Damage::wrong_type)) {
      if (plan.damage == Damage::missing_field && plan.damage_variant == 0) continue;
      line.key(keys[field]);
      write_damaged_value(line, plan, kinds[field]);
      continue;
    }
    write_field(line, field);
  }
  line.finish();
  if (plan.damage == Damage::truncated) {
    // Any proper prefix of an object lacks its closing brace, so it is never valid JSON; keeping
    // at least the '{' means it is never a blank line either.
    out.resize(1 + static_cast<std::size_t>(format.below(static_cast<std::int64_t>(out.size()) - 1)));
  }
}

constexpr FieldKind kCustomerKinds[] = {FieldKind::string,  FieldKind::string,  FieldKind::string,  FieldKind::string,
                                        FieldKind::string,  FieldKind::integer, FieldKind::integer, FieldKind::integer,
                                        FieldKind::integer, FieldKind::integer};
constexpr FieldKind kAccelerometerKinds[] = {FieldKind::string, FieldKind::integer, FieldKind::number,
                                             FieldKind::number, FieldKind::number};
constexpr FieldKind kStepTrainerKinds[] = {FieldKind::integer, FieldKind::string, FieldKind::integer};

// One simulated reading: what the step trainer and the phone record at the same moment.
struct Reading {
  std::int64_t distance_cm = 0;
  std::array<std::int64_t, 3> accel_milli_g{};
};

class MotionSimulator {
 public:
  MotionSimulator(const MotionParams& params, Rng& rng) : params_(params), rng_(rng) {
    stepping_ = rng_.chance(0.7);
    segment_left_s_ = draw_segment();
    phase_ = rng_.uniform(0, 2 * kTwoPi);
    segment_cadence_hz_ = params_.cadence_hz;
  }

  void advance(double seconds) {
    segment_left_s_ -= seconds;
    while (segment_left_s_ <= 0) {
      stepping_ = !stepping_;
      segment_left_s_ += draw_segment();
      segment_cadence_hz_ = params_.cadence_hz * rng_.uniform(0.9, 1.1);
    }
    // The phase runs over a stride (two steps), so the half-rate sway stays continuous.
    if (stepping_) {
      phase_ += kTwoPi * segment_cadence_hz_ * seconds;
      while (phase_ >= 2 * kTwoPi) phase_ -= 2 * kTwoPi;
    }
  }

  bool stepping() const { return stepping_; }

  Reading sample() {
    Reading reading;
    double lift = 0, bounce = 0, sway = 0;
    if (stepping_) {
      const double cosine = std::cos(phase_);
      lift = 0.5 - 0.5 * cosine;  // 0 with the foot down, 1 at the top of the step
      bounce = params_.bounce_g * cosine;
      sway = 0.3 * params_.bounce_g * std::sin(0.5 * phase_);
    }
    const double distance = params_.base_cm - params_.lift_cm * lift + params_.distance_noise_cm * rng_.normal();
    reading.distance_cm = std::clamp<std::int64_t>(round_to_int(distance), 100, 350);
    reading.accel_milli_g = accel_sample(bounce, sway);
    return reading;
  }

  // A second phone sample at the same moment: same motion, fresh noise.
  std::array<std::int64_t, 3> resample_accel() {
    double bounce = 0, sway = 0;
    if (stepping_) {
      bounce = params_.bounce_g * std::cos(phase_);
      sway = 0.3 * params_.bounce_g * std::sin(0.5 * phase_);
    }
    return accel_sample(bounce, sway);
  }

 private:
  double draw_segment() {
    const double mean = stepping_ ? params_.mean_stepping_s : params_.mean_pause_s;
    return mean * rng_.uniform(0.3, 1.7);
  }
  std::array<std::int64_t, 3> accel_sample(double bounce, double sway) {
    std::array<std::int64_t, 3> milli{};
    for (std::size_t axis = 0; axis < 3; ++axis) {
      const double value = params_.gravity[axis] * (1.0 + bounce) + params_.sway_axis[axis] * sway +
                           params_.accel_noise_g * rng_.normal();
      milli[axis] = round_to_int(value * 1000.0);
    }
    return milli;
  }

  const MotionParams& params_;
  Rng& rng_;
  bool stepping_ = true;
  double segment_left_s_ = 0;
  double phase_ = 0;
  double segment_cadence_hz_ = 1.5;
};

// ---------------------------------------------------------------------------
// Output
// ---------------------------------------------------------------------------

constexpr std::size_t kSpillBytes = std::size_t{8} << 20;

struct SourceOutput {
  std::string text;
  FileStyle style;
  FileSink* sink = nullptr;  // null: the text stays in memory
  std::int64_t rows = 0;
};

// Writes the lines of one block (or, for the size probe, of any set of customers).
class BlockGenerator {
 public:
  BlockGenerator(const GenerateOptions& options, std::int64_t mean_readings, const std::array<FileStyle, 3>& styles,
                 const std::array<FileSink*, 3>& sinks)
      : options_(options), mean_readings_(mean_readings) {
    for (std::size_t s = 0; s < 3; ++s) {
      outputs_[s].style = styles[s];
      outputs_[s].sink = sinks[s];
      if (sinks[s] != nullptr) outputs_[s].text.reserve(kSpillBytes + (std::size_t{1} << 20));
      if (styles[s].byte_order_mark) outputs_[s].text.append("\xEF\xBB\xBF");
    }
  }

  void add_customer(std::int64_t index) {
    const CustomerRecord customer = draw_customer(options_, index, mean_readings_);
    Rng format(options_.seed, Stream::customer_format, static_cast<std::uint64_t>(index));
    write_customer_row(customer, format);

    Rng values(options_.seed, Stream::session_values, static_cast<std::uint64_t>(index));
    write_session(customer.session, customer.email, customer.serial, true, values, format);

    if (customer.has_ghost) {
      // A phone (and sometimes a device) whose owner is in no customer file.
      Rng ghost(options_.seed, Stream::ghost_values, static_cast<std::uint64_t>(index));
      const std::string email = person_email(kFirstNames[ghost.below(count_of(kFirstNames))],
                                             kLastNames[ghost.below(count_of(kLastNames))], options_.customers + index);
      Rng ghost_serial(options_.seed, Stream::ghost_serial, static_cast<std::uint64_t>(index));
      const std::string serial = uuid_string(ghost_serial);
      const bool has_device = ghost.chance(0.5);
      const Session session = draw_session(ghost, mean_readings_, kEpochStart + ghost.below(kRegistrationSpread));
      write_session(session, email, serial, has_device, ghost, format);
    }
    spill_large_buffers();
  }

  // Appends the duplicated customer rows, applies the final-newline style and flushes to the sinks.
  void finish() {
    SourceOutput& customers = output(Source::customer);
    for (const std::string& row : duplicate_rows_) append_line(customers, row);
    duplicate_rows_.clear();
    for (SourceOutput& out : outputs_) {
      if (!out.style.final_newline && out.rows > 0) {
        const std::size_t ending = out.style.crlf ? 2 : 1;
        if (out.text.size() >= ending) out.text.resize(out.text.size() - ending);
      }
      if (out.sink != nullptr) {
        out.sink->write(out.text);
        out.text.clear();
      }
    }
  }

  SourceOutput& output(Source source) { return outputs_[static_cast<std::size_t>(source)]; }
  std::int64_t broken_rows() const { return broken_rows_; }

 private:
  void append_line(SourceOutput& out, std::string_view line) {
    out.text.append(line);
    out.text.append(out.style.crlf ? "\r\n" : "\n");
    ++out.rows;
  }

  void emit(SourceOutput& out, const LinePlan& plan) {
    if (plan.blank_line_before) out.text.append(out.style.crlf ? "\r\n" : "\n");
    append_line(out, line_);
    if (plan.damage != Damage::none) ++broken_rows_;
  }

  // Hands big buffers to the files, keeping the last line ending so that finish() can still drop
  // it for files without a final newline.
  void spill_large_buffers() {
    for (SourceOutput& out : outputs_) {
      if (out.sink == nullptr || out.text.size() < kSpillBytes) continue;
      const std::size_t keep = 2;
      out.sink->write(std::string_view(out.text).substr(0, out.text.size() - keep));
      out.text.erase(0, out.text.size() - keep);
    }
  }

  void write_customer_row(const CustomerRecord& customer, Rng& format) {
    SourceOutput& out = output(Source::customer);
    const FileStyle& style = out.style;
    const LinePlan plan = plan_line(format, 10, {1, 4}, options_.bad_line_rate);
    const auto write_optional_date = [&](JsonLine& line, std::string_view key, std::int64_t date) {
      if (date == kNoDate) {
        if (!format.chance(style.explicit_null_share)) return;  // NULL left out
        line.key(key);
        line.raw("null");
        return;
      }
      line.key(key);
      line.integer(date, draw_int_form(format, plan, style.float_epochs));
    };
    const auto write_optional_string = [&](JsonLine& line, std::string_view key, std::string_view value) {
      line.key(key);
      if (plan.quirky && format.chance(kEmptyStringShare)) {
        line.raw("\"\"");  // "" means NULL too
      } else {
        line.string_value(value);
      }
    };
    write_line(line_, plan, style.spaced, format, kCustomerKeys, kCustomerKinds,
               [&](JsonLine& line, std::size_t field) {
                 switch (field) {
                   case 0: write_optional_string(line, kCustomerKeys[0], customer.name); break;
                   case 1:
                     line.key(kCustomerKeys[1]);
                     line.string_value(customer.email);
                     break;
                   case 2:
                     if (format.chance(style.phone_number_share)) {
                       line.key(kCustomerKeys[2]);
                       line.raw(customer.phone);  // as a JSON number, like older dumps
                     } else {
                       write_optional_string(line, kCustomerKeys[2], customer.phone);
                     }
                     break;
                   case 3: write_optional_string(line, kCustomerKeys[3], customer.birth_day); break;
                   case 4:
                     line.key(kCustomerKeys[4]);
                     line.string_value(customer.serial);
                     break;
                   case 5:
                     line.key(kCustomerKeys[5]);
                     line.integer(customer.registration, draw_int_form(format, plan, style.float_epochs));
                     break;
                   case 6:
                     line.key(kCustomerKeys[6]);
                     line.integer(customer.last_update, draw_int_form(format, plan, style.float_epochs));
                     break;
                   case 7: write_optional_date(line, kCustomerKeys[7], customer.research); break;
                   case 8: write_optional_date(line, kCustomerKeys[8], customer.publicly); break;
                   default: write_optional_date(line, kCustomerKeys[9], customer.friends); break;
                 }
               });
    emit(out, plan);
    if (customer.duplicate_row && plan.damage == Damage::none) duplicate_rows_.push_back(line_);
  }

  // The fixed text around the values of a session's plain lines (no quirk, not broken), so the
  // common case is a few memcpy's. Must match what write_line produces for such lines.
  struct PlainLineText {
    std::string accelerometer_head;        // {"user":"<email>","timestamp":
    std::array<std::string, 3> axis_keys;  // ,"x":
    std::string step_head;                 // {"sensorReadingTime":
    std::string step_middle;               // ,"serialNumber":"<serial>","distanceFromObject":
  };
  static constexpr std::size_t kMaxPlainLine = 512;

  static std::string key_text(bool spaced, bool first, std::string_view key) {
    std::string text = first ? "\"" : (spaced ? ", \"" : ",\"");
    text.append(key).append(spaced ? "\": " : "\":");
    return text;
  }

  PlainLineText plain_line_text(std::string_view user, std::string_view serial) {
    const FileStyle& accelerometer = output(Source::accelerometer).style;
    const FileStyle& step_trainer = output(Source::step_trainer).style;
    PlainLineText text;
    text.accelerometer_head = "{" + key_text(accelerometer.spaced, true, "user");
    text.accelerometer_head.append("\"").append(user).append("\"");
    text.accelerometer_head +=
        key_text(accelerometer.spaced, false, accelerometer.time_stamp_key ? "timeStamp" : "timestamp");
    for (std::size_t axis = 0; axis < 3; ++axis) {
      text.axis_keys[axis] = key_text(accelerometer.spaced, false, kAccelerometerKeys[2 + axis]);
    }
    text.step_head = "{" + key_text(step_trainer.spaced, true, "sensorReadingTime");
    text.step_middle = key_text(step_trainer.spaced, false, "serialNumber");
    text.step_middle.append("\"").append(serial).append("\"");
    text.step_middle += key_text(step_trainer.spaced, false, "distanceFromObject");
    return text;
  }

  static char* end_line(char* out, bool crlf) {
    *out++ = '}';
    if (crlf) *out++ = '\r';
    *out++ = '\n';
    return out;
  }

  void write_accelerometer_row(std::string_view user, std::int64_t timestamp,
                               const std::array<std::int64_t, 3>& milli_g, Rng& format, const PlainLineText& plain) {
    SourceOutput& out = output(Source::accelerometer);
    const FileStyle& style = out.style;
    const LinePlan plan = plan_line(format, 5, {0, 1, 2, 3, 4}, options_.bad_line_rate);
    if (!plan.quirky && plan.damage == Damage::none && plain.accelerometer_head.size() + 128 < kMaxPlainLine) {
      char line[kMaxPlainLine];
      char* end = gen::write_text(line, plain.accelerometer_head);
      end = gen::write_int(end, timestamp);
      if (style.float_epochs) end = std::copy_n(".0", 2, end);
      for (std::size_t axis = 0; axis < 3; ++axis) {
        end = write_thousandths(gen::write_text(end, plain.axis_keys[axis]), milli_g[axis]);
      }
      out.text.append(line, end_line(end, style.crlf));
      ++out.rows;
      return;
    }
    const bool time_stamp_key = style.time_stamp_key || (plan.quirky && format.chance(kTimeStampKeyShare));
    write_line(line_, plan, style.spaced, format, kAccelerometerKeys, kAccelerometerKinds,
               [&](JsonLine& line, std::size_t field) {
                 if (field == 0) {
                   line.key("user");
                   line.string_value(user);
                 } else if (field == 1) {
                   line.key(time_stamp_key ? "timeStamp" : "timestamp");
                   line.integer(timestamp, draw_int_form(format, plan, style.float_epochs));
                 } else {
                   line.key(kAccelerometerKeys[field]);
                   line.thousandths(milli_g[field - 2]);
                 }
               });
    emit(out, plan);
  }

  void write_step_trainer_row(std::string_view serial, std::int64_t time, std::int64_t distance, Rng& format,
                              const PlainLineText& plain) {
    SourceOutput& out = output(Source::step_trainer);
    const FileStyle& style = out.style;
    const LinePlan plan = plan_line(format, 3, {0, 1, 2}, options_.bad_line_rate);
    if (!plan.quirky && plan.damage == Damage::none && plain.step_middle.size() + 128 < kMaxPlainLine) {
      char line[kMaxPlainLine];
      char* end = gen::write_text(line, plain.step_head);
      end = gen::write_int(end, time);
      if (style.float_epochs) end = std::copy_n(".0", 2, end);
      end = gen::write_int(gen::write_text(end, plain.step_middle), distance);
      out.text.append(line, end_line(end, style.crlf));
      ++out.rows;
      return;
    }
    write_line(
        line_, plan, style.spaced, format, kStepTrainerKeys, kStepTrainerKinds, [&](JsonLine& line, std::size_t field) {
          line.key(kStepTrainerKeys[field]);
          if (field == 1) {
            line.string_value(serial);
          } else {
            line.integer(field == 0 ? time : distance, draw_int_form(format, plan, field == 0 && style.float_epochs));
          }
        });
    emit(out, plan);
  }

  // The device and the phone sample together: both rows carry the same timestamp, which is what
  // the machine-learning join matches on.
  void write_session(const Session& session, std::string_view user, std::string_view serial, bool has_device,
                     Rng& values, Rng& format) {
    MotionSimulator motion(session.motion, values);
    const PlainLineText plain = plain_line_text(user, serial);
    std::int64_t time = session.start_ms;
    const std::int64_t jitter = session.interval_ms / 10;
    for (std::int64_t i = 0; i < session.readings; ++i) {
      if (i > 0) {
        const std::int64_t step_ms = session.interval_ms - jitter + values.below(2 * jitter + 1);
        time += step_ms;
        motion.advance(static_cast<double>(step_ms) * 0.001);
      }
      const Reading reading = motion.sample();
      const double loss = values.uniform();
      const bool phone_side = loss >= kStepOnlyRate;
      const bool device_side = has_device && !(loss >= kStepOnlyRate && loss < kStepOnlyRate + kAccelOnlyRate);
      if (device_side) write_step_trainer_row(serial, time, reading.distance_cm, format, plain);
      if (phone_side) {
        write_accelerometer_row(user, time, reading.accel_milli_g, format, plain);
        if (values.chance(kDuplicateTimestampRate)) {
          write_accelerometer_row(user, time, motion.resample_accel(), format, plain);
        }
      }
      if ((i & 1023) == 1023) spill_large_buffers();
    }
  }

  const GenerateOptions& options_;
  std::int64_t mean_readings_;
  std::array<SourceOutput, 3> outputs_;
  std::vector<std::string> duplicate_rows_;
  std::string line_;
  std::int64_t broken_rows_ = 0;
};

void validate(const GenerateOptions& options) {
  const auto require = [](bool condition, const char* message) {
    if (!condition) throw std::invalid_argument(std::string("generate_landing: ") + message);
  };
  require(options.customers >= 0, "customers must be >= 0");
  require(options.readings_per_customer >= 0, "readings_per_customer must be >= 0");
  require(options.target_bytes >= 0, "target_bytes must be >= 0");
  require(options.customers_per_file > 0, "customers_per_file must be > 0");
  require(options.consent_fraction >= 0 && options.consent_fraction <= 1, "consent_fraction must be in [0, 1]");
  require(options.shared_serial_fraction >= 0 && options.shared_serial_fraction <= 1,
          "shared_serial_fraction must be in [0, 1]");
  require(options.bad_line_rate >= 0 && options.bad_line_rate <= 1, "bad_line_rate must be in [0, 1]");
}

std::pair<std::int64_t, std::int64_t> block_customers(const GenerateOptions& options, std::int64_t block) {
  const std::int64_t first = block * options.customers_per_file;
  return {first, std::min(options.customers, first + options.customers_per_file)};
}

void check_mpi(int code, const char* call) {
  if (code == MPI_SUCCESS) return;
  char message[MPI_MAX_ERROR_STRING];
  int length = 0;
  if (MPI_Error_string(code, message, &length) != MPI_SUCCESS) length = 0;
  throw std::runtime_error(std::string("generate_landing: ") + call +
                           " failed: " + std::string(message, static_cast<std::size_t>(length)));
}

// Every rank gets rank 0's string.
std::string broadcast_from_root(MPI_Comm comm, std::string text) {
  std::int64_t length = static_cast<std::int64_t>(text.size());
  check_mpi(MPI_Bcast(&length, 1, MPI_INT64_T, 0, comm), "MPI_Bcast");
  if (length > std::numeric_limits<int>::max()) throw std::runtime_error("generate_landing: message too long");
  text.resize(static_cast<std::size_t>(length));
  if (length > 0) {
    check_mpi(MPI_Bcast(text.data(), static_cast<int>(length), MPI_CHAR, 0, comm), "MPI_Bcast");
  }
  return text;
}

// True when `name` is a file this run writes into that source folder.
bool is_block_file_name(const std::string& name, Source source, std::int64_t blocks) {
  const std::string prefix = std::string(source_name(source)) + "-";
  const int width = gen::file_index_width(blocks);
  if (name.size() != prefix.size() + static_cast<std::size_t>(width) + 5) return false;
  if (name.compare(0, prefix.size(), prefix) != 0 || !name.ends_with(".json")) return false;
  std::int64_t block = 0;
  const char* digits = name.data() + prefix.size();
  const auto result = std::from_chars(digits, digits + width, block);
  return result.ec == std::errc() && result.ptr == digits + width && block < blocks;
}

// Rank 0: create the source folders and refuse to mix into foreign files there.
void prepare_folders(const GenerateOptions& options, std::int64_t blocks) {
  for (const Source source : kAllSources) {
    const std::filesystem::path folder = options.out / source_name(source);
    std::error_code error;
    std::filesystem::create_directories(folder, error);
    if (error) {
      throw std::runtime_error("generate_landing: cannot create " + folder.string() + ": " + error.message());
    }
    std::int64_t foreign = 0;
    std::string example;
    for (std::filesystem::directory_iterator it(folder, error), end; !error && it != end; it.increment(error)) {
      const std::string name = it->path().filename().string();
      if (name.starts_with('.') || is_block_file_name(name, source, blocks)) continue;
      if (foreign++ == 0) example = name;
    }
    if (error) {
      throw std::runtime_error("generate_landing: cannot list " + folder.string() + ": " + error.message());
    }
    if (foreign > 0) {
      throw std::runtime_error("generate_landing: " + folder.string() + " already holds " + std::to_string(foreign) +
                               " entries this run would not overwrite (e.g. " + example +
                               "); use an empty output folder");
    }
  }
}

}  // namespace

std::string_view source_name(Source source) {
  switch (source) {
    case Source::customer: return "customer";
    case Source::accelerometer: return "accelerometer";
    case Source::step_trainer: return "step_trainer";
  }
  return "unknown";
}

const std::string& GeneratedBlock::text(Source source) const {
  switch (source) {
    case Source::customer: return customer;
    case Source::accelerometer: return accelerometer;
    case Source::step_trainer: return step_trainer;
  }
  throw std::invalid_argument("GeneratedBlock::text: unknown source");
}

std::int64_t block_count(const GenerateOptions& options) {
  validate(options);
  return gen::block_count(options.customers, options.customers_per_file);
}

std::filesystem::path block_path(const std::filesystem::path& out, Source source, std::int64_t block_index,
                                 std::int64_t blocks) {
  const std::string_view name = source_name(source);
  std::string file_name;
  file_name.append(name)
      .append("-")
      .append(gen::zero_padded(block_index, gen::file_index_width(blocks)))
      .append(".json");
  return out / name / file_name;
}

std::int64_t resolve_readings_per_customer(const GenerateOptions& options) {
  validate(options);
  if (options.target_bytes == 0) return options.readings_per_customer;
  if (options.customers == 0) return 0;
  // Bytes grow linearly with the mean readings per device: measure the intercept and slope on a
  // deterministic sample of customers spread over the whole index range (email lengths grow with
  // the index), then solve for the target.
  constexpr std::int64_t kProbeReadings = 64;
  const std::int64_t samples = std::min<std::int64_t>(options.customers, 2048);
  const auto probe_bytes = [&](std::int64_t mean_readings) {
    std::array<FileStyle, 3> styles{};
    BlockGenerator generator(options, mean_readings, styles, {nullptr, nullptr, nullptr});
    for (std::int64_t i = 0; i < samples; ++i) generator.add_customer(i * options.customers / samples);
    generator.finish();
    double bytes = 0;
    for (const Source source : kAllSources) bytes += static_cast<double>(generator.output(source).text.size());
    return bytes * static_cast<double>(options.customers) / static_cast<double>(samples);
  };
  const double fixed_bytes = probe_bytes(0);
  const double bytes_per_reading = (probe_bytes(kProbeReadings) - fixed_bytes) / kProbeReadings;
  if (bytes_per_reading <= 0) return 0;
  const double readings = (static_cast<double>(options.target_bytes) - fixed_bytes) / bytes_per_reading;
  return readings <= 0 ? 0 : std::llround(readings);
}

GeneratedBlock generate_block(const GenerateOptions& options, std::int64_t block_index) {
  const std::int64_t blocks = block_count(options);
  if (block_index < 0 || block_index >= blocks) {
    throw std::invalid_argument("generate_block: block " + std::to_string(block_index) + " out of range [0, " +
                                std::to_string(blocks) + ")");
  }
  std::array<FileStyle, 3> styles;
  for (const Source source : kAllSources) {
    styles[static_cast<std::size_t>(source)] = draw_file_style(options, block_index, source);
  }
  BlockGenerator generator(options, options.readings_per_customer, styles, {nullptr, nullptr, nullptr});
  const auto [first, last] = block_customers(options, block_index);
  for (std::int64_t index = first; index < last; ++index) generator.add_customer(index);
  generator.finish();

  GeneratedBlock block;
  block.customer = std::move(generator.output(Source::customer).text);
  block.accelerometer = std::move(generator.output(Source::accelerometer).text);
  block.step_trainer = std::move(generator.output(Source::step_trainer).text);
  block.customer_rows = generator.output(Source::customer).rows;
  block.accelerometer_rows = generator.output(Source::accelerometer).rows;
  block.step_trainer_rows = generator.output(Source::step_trainer).rows;
  block.broken_rows = generator.broken_rows();
  return block;
}

GenerateReport generate_landing(const GenerateOptions& options, MPI_Comm comm) {
  int rank = 0, size = 1;
  check_mpi(MPI_Comm_rank(comm, &rank), "MPI_Comm_rank");
  check_mpi(MPI_Comm_size(comm, &size), "MPI_Comm_size");

  // Every rank validates and resolves identically (pure functions of the options), so an invalid
  // option throws on all ranks alike.
  if (options.out.empty()) throw std::invalid_argument("generate_landing: no output folder");
  GenerateOptions resolved = options;
  resolved.readings_per_customer = resolve_readings_per_customer(options);
  resolved.target_bytes = 0;
  const std::int64_t blocks = block_count(resolved);

  // The broadcast of rank 0's verdict also orders folder creation before any rank's writes.
  std::string setup_error;
  if (rank == 0) {
    try {
      prepare_folders(resolved, blocks);
    } catch (const std::exception& error) {
      setup_error = error.what();
      if (setup_error.empty()) setup_error = "generate_landing: folder setup failed";
    }
  }
  setup_error = broadcast_from_root(comm, setup_error);
  if (!setup_error.empty()) throw std::runtime_error(setup_error);

  // files, bytes, customer rows, accelerometer rows, step-trainer rows, broken rows, failed ranks
  std::array<std::int64_t, 7> totals{};
  std::string local_error;
  try {
    for (const std::int64_t block : gen::blocks_of_rank(blocks, rank, size)) {
      std::array<std::unique_ptr<FileSink>, 3> files;
      std::array<FileSink*, 3> sinks{};
      std::array<FileStyle, 3> styles;
      for (const Source source : kAllSources) {
        const auto s = static_cast<std::size_t>(source);
        files[s] = std::make_unique<FileSink>(block_path(resolved.out, source, block, blocks));
        sinks[s] = files[s].get();
        styles[s] = draw_file_style(resolved, block, source);
      }
      BlockGenerator generator(resolved, resolved.readings_per_customer, styles, sinks);
      const auto [first, last] = block_customers(resolved, block);
      for (std::int64_t index = first; index < last; ++index) generator.add_customer(index);
      generator.finish();
      for (const Source source : kAllSources) {
        const auto s = static_cast<std::size_t>(source);
        files[s]->close();
        totals[0] += 1;
        totals[1] += files[s]->bytes();
        totals[2 + s] += generator.output(source).rows;
      }
      totals[5] += generator.broken_rows();
    }
  } catch (const std::exception& error) {
    local_error = error.what();
    totals[6] = 1;
  }

  // Collective even after a local failure, so no rank is left waiting.
  std::array<std::int64_t, 7> global{};
  check_mpi(MPI_Allreduce(totals.data(), global.data(), static_cast<int>(totals.size()), MPI_INT64_T, MPI_SUM, comm),
            "MPI_Allreduce");
  if (!local_error.empty()) throw std::runtime_error(local_error);
  if (global[6] > 0) {
    throw std::runtime_error("generate_landing: " + std::to_string(global[6]) +
                             " rank(s) failed writing; see their errors");
  }

  GenerateReport report;
  report.files = global[0];
  report.bytes = global[1];
  report.customer_rows = global[2];
  report.accelerometer_rows = global[3];
  report.step_trainer_rows = global[4];
  report.broken_rows = global[5];
  return report;
}

}  // namespace mpilake::stedi
