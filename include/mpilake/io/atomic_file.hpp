#pragma once
// Small text outputs (summaries, quarantine lists) written under a temporary name, then renamed, so
// a reader never sees a half-written file.
#include <filesystem>
#include <string_view>

namespace mpilake {

// Throws std::runtime_error naming the file on failure.
void write_file_atomically(const std::filesystem::path& path, std::string_view contents);

}  // namespace mpilake
