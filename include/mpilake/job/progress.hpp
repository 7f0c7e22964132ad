#pragma once
// What a person watching a long job sees: rank 0 reports each long stage (bytes parsed, columns
// written, rounds exchanged) with a share done and an estimate of the time left. On a terminal it
// is one live line redrawn in place; in a log (a Slurm job's output file) it is a plain line every
// few seconds. `--quiet` turns it off. Other ranks never print, and nothing here communicates: the
// figures are rank 0's own share of the work, which the byte-range split keeps close to every
// rank's.
#include <cstdint>
#include <cstdio>
#include <string>

#include "mpilake/util/progress_callback.hpp"

namespace mpilake::job {

enum class ProgressUnit { Bytes, Rows, Columns, Rounds };

class Progress {
 public:
  // `enabled` only on the printing rank; `log_interval_seconds`: how often a non-terminal gets a line.
  Progress(bool enabled, double log_interval_seconds, std::FILE* stream = stderr);
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  bool enabled() const { return enabled_; }
  // A line that stays ("[mpilake] <text>"), e.g. when a stage has finished.
  void line(const std::string& text);

  // Starts a stage of `total` units, `done_before` of them done already (a stage resumed after
  // other work); `update` then reports how many are done.
  void begin(const std::string& what, std::int64_t total, ProgressUnit unit, std::int64_t done_before = 0);
  void update(std::int64_t done);
  void end();
  // A callback for engine operations that reports into the current stage, `offset` units in.
  ProgressCallback callback(std::int64_t offset = 0);

  // "45% (540 MB of 1.2 GB), 310 MB/s, about 3 s left": the text of one report.
  // The rate and the time left count only the units done after `done_before`.
  static std::string describe(std::int64_t done, std::int64_t total, ProgressUnit unit, double elapsed_seconds,
                              std::int64_t done_before = 0);

 private:
  void draw();

  bool enabled_;
  bool terminal_;
  double interval_;
  std::FILE* stream_;
  std::string what_;
  std::int64_t total_ = 0;
  std::int64_t done_ = 0;
  std::int64_t done_before_ = 0;
  ProgressUnit unit_ = ProgressUnit::Bytes;
  double started_ = 0;
  double last_drawn_ = 0;
  bool live_line_shown_ = false;
  bool active_ = false;
};

}  // namespace mpilake::job
