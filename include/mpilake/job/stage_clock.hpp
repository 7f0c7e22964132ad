#pragma once
// Wall time per stage of a job on this rank; a stage may be entered several times and its times
// add up. The summary reports each stage's slowest rank.
#include <mpi.h>

#include <exception>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "mpilake/job/stop_report.hpp"
#include "mpilake/mpi/comm.hpp"

namespace mpilake::job {

struct StageTime {
  std::string stage;
  double seconds = 0;  // the slowest rank's time
};

class StageClock {
 public:
  explicit StageClock(std::vector<std::string> stages) : names_(std::move(stages)), seconds_(names_.size(), 0) {}

  // Runs `work` and adds its wall time to `stage` (also when it throws); current_stage() names the
  // stage meanwhile, and still names it after it threw (for the error line).
  template <class Work>
  decltype(auto) time(std::size_t stage, Work&& work) {
    struct Add {
      double& total;
      double start;
      std::optional<std::string> outer_stage;
      int exceptions;
      ~Add() {
        total += MPI_Wtime() - start;
        if (std::uncaught_exceptions() == exceptions) set_current_stage(outer_stage ? outer_stage->c_str() : nullptr);
      }
    } add{seconds_[stage], MPI_Wtime(), outer_stage_name(), std::uncaught_exceptions()};
    set_current_stage(names_[stage].c_str());
    return work();
  }
  const std::string& name(std::size_t stage) const { return names_[stage]; }

  // Collective: every stage with the slowest rank's time.
  std::vector<StageTime> slowest(const Comm& comm) const {
    std::vector<StageTime> result;
    for (std::size_t i = 0; i < names_.size(); ++i) result.push_back({names_[i], comm.allreduce_max(seconds_[i])});
    return result;
  }

 private:
  static std::optional<std::string> outer_stage_name() {
    const char* name = current_stage();
    return name != nullptr ? std::optional<std::string>(name) : std::nullopt;
  }

  std::vector<std::string> names_;
  std::vector<double> seconds_;
};

}  // namespace mpilake::job
