#pragma once
// Small text outputs (summaries, quarantine lists) written under a temporary name, then renamed, so
// a reader never sees a half-written file.
#include <filesystem>
#include <string_view>

namespace mpilake {

// The hidden temporary name an output is written under before its rename: DIR/.NAME.tmp
std::filesystem::path temporary_path_for(const std::filesystem::path& path);

// Throws std::runtime_error naming the file on failure.
void write_file_atomically(const std::filesystem::path& path, std::string_view contents);

}  // namespace mpilake
