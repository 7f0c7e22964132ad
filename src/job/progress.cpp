#include "mpilake/job/progress.hpp"

#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>

#include "mpilake/mpi/memory_guard.hpp"

namespace mpilake::job {

namespace {

double now_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// Decimal units, like format_bytes, down to single bytes.
std::string bytes_text(std::int64_t bytes) {
  if (bytes >= 1'000'000) return format_bytes(bytes);
  char text[32];
  if (bytes >= 1000)
    std::snprintf(text, sizeof text, "%.0f kB", static_cast<double>(bytes) / 1e3);
  else
    std::snprintf(text, sizeof text, "%lld B", static_cast<long long>(bytes));
  return text;
}

std::string amount(std::int64_t value, ProgressUnit unit) {
  switch (unit) {
    case ProgressUnit::Bytes: return bytes_text(value);
    case ProgressUnit::Rows: return std::to_string(value) + " rows";
    case ProgressUnit::Columns: return std::to_string(value) + " columns";
    case ProgressUnit::Rounds: return std::to_string(value) + " rounds";
  }
  return std::to_string(value);
}

std::string duration_text(double seconds) {
  const auto whole = static_cast<long long>(std::ceil(seconds));
  if (whole < 60) return std::to_string(whole) + " s";
  if (whole < 3600) return std::to_string(whole / 60) + " min " + std::to_string(whole % 60) + " s";
  return std::to_string(whole / 3600) + " h " + std::to_string(whole % 3600 / 60) + " min";
}

// A live line is redrawn at most this often on a terminal.
constexpr double kTerminalRedrawSeconds = 0.2;

}  // namespace

Progress::Progress(bool enabled, double log_interval_seconds, std::FILE* stream)
    : enabled_(enabled),
      terminal_(enabled && isatty(fileno(stream)) != 0),
      interval_(log_interval_seconds),
      stream_(stream) {}

void Progress::line(const std::string& text) {
  if (!enabled_) return;
  if (live_line_shown_) std::fputs("\r\033[K", stream_);
  live_line_shown_ = false;
  std::fprintf(stream_, "[mpilake] %s\n", text.c_str());
  std::fflush(stream_);
}

void Progress::begin(const std::string& what, std::int64_t total, ProgressUnit unit, std::int64_t done_before) {
  what_ = what;
  total_ = total;
  done_ = done_before_ = done_before;
  unit_ = unit;
  started_ = now_seconds();
  last_drawn_ = started_;
  active_ = true;
}

void Progress::update(std::int64_t done) {
  if (!enabled_ || !active_) return;
  done_ = done;
  const double now = now_seconds();
  if (now - last_drawn_ < (terminal_ ? kTerminalRedrawSeconds : interval_)) return;
  last_drawn_ = now;
  draw();
}

void Progress::end() {
  if (enabled_ && live_line_shown_) {
    std::fputs("\r\033[K", stream_);
    std::fflush(stream_);
  }
  live_line_shown_ = false;
  active_ = false;
}

ProgressCallback Progress::callback(std::int64_t offset) {
  if (!enabled_) return {};
  return [this, offset](std::int64_t done, std::int64_t total) {
    if (total_ == 0) total_ = total;  // a stage begun without knowing its size learns it here
    update(offset + done);
  };
}

std::string Progress::describe(std::int64_t done, std::int64_t total, ProgressUnit unit, double elapsed,
                               std::int64_t done_before) {
  std::string text;
  const double share = total > 0 ? static_cast<double>(done) / static_cast<double>(total) : 0.0;
  text +=
      std::to_string(static_cast<int>(share * 100)) + "% (" + amount(done, unit) + " of " + amount(total, unit) + ")";
  // The rate and the estimate count only what was done since begin().
  const auto done_now = static_cast<double>(done - done_before);
  if (unit == ProgressUnit::Bytes && elapsed > 0)
    text += ", " + bytes_text(static_cast<std::int64_t>(done_now / elapsed)) + "/s";
  // An estimate only once the stage is under way: a second in and 1% done.
  if (elapsed >= 1.0 && total > 0 && done_now >= 0.01 * static_cast<double>(total) && share < 1.0)
    text += ", about " + duration_text(elapsed * static_cast<double>(total - done) / done_now) + " left";
  return text;
}

void Progress::draw() {
  const std::string text = what_ + ": " + describe(done_, total_, unit_, now_seconds() - started_, done_before_);
  if (terminal_) {
    std::fprintf(stream_, "\r\033[K[mpilake] %s", text.c_str());
    live_line_shown_ = true;
  } else {
    std::fprintf(stream_, "[mpilake] %s\n", text.c_str());
  }
  std::fflush(stream_);
}

}  // namespace mpilake::job
