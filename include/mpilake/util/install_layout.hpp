#pragma once
// Where mpilake finds its data files (the report generator and its template): relative to the
// running binary, never through a path compiled in, so an installed prefix works wherever it is
// copied or mounted. The build folder has the same shape: build/bin/mpilake, build/share/mpilake/
// holding links into the source tree (CMakeLists.txt).
#include <filesystem>

namespace mpilake::util {

// The folder of the running executable (/proc/self/exe with links resolved); throws
// std::runtime_error when it cannot be read.
std::filesystem::path executable_dir();

// <executable_dir>/../share/mpilake (the relative part comes from CMake's install folders).
std::filesystem::path data_dir();

}  // namespace mpilake::util
