#include "mpilake/util/install_layout.hpp"

#include <stdexcept>
#include <system_error>

#ifndef MPILAKE_DATA_DIR_FROM_BIN
#define MPILAKE_DATA_DIR_FROM_BIN "../share/mpilake"
#endif

namespace mpilake::util {

std::filesystem::path executable_dir() {
  std::error_code error;
  const std::filesystem::path exe = std::filesystem::canonical("/proc/self/exe", error);
  if (error) throw std::runtime_error("cannot find the running mpilake binary (/proc/self/exe): " + error.message());
  return exe.parent_path();
}

std::filesystem::path data_dir() {
  return (executable_dir() / MPILAKE_DATA_DIR_FROM_BIN).lexically_normal();
}

}  // namespace mpilake::util
