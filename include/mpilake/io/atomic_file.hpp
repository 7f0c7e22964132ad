#pragma once
// Small text outputs (summaries, quarantine lists) written under a temporary name, then renamed, so
// a reader never sees a half-written file.
#include <cstdio>
#include <filesystem>
#include <string_view>

namespace mpilake {

// The hidden temporary name an output is written under before its rename: DIR/.NAME.tmp
std::filesystem::path temporary_path_for(const std::filesystem::path& path);

// Throws std::runtime_error naming the file on failure.
void write_file_atomically(const std::filesystem::path& path, std::string_view contents);

// The same for an output written in pieces (larger than memory): append() to the temporary file,
// commit() renames it into place. Destroyed without commit(), it removes the temporary file and the
// output stays as it was. Errors throw std::runtime_error naming the file.
class AtomicFileWriter {
 public:
  explicit AtomicFileWriter(std::filesystem::path path);
  ~AtomicFileWriter();
  AtomicFileWriter(const AtomicFileWriter&) = delete;
  AtomicFileWriter& operator=(const AtomicFileWriter&) = delete;
  void append(std::string_view text);
  void commit();

 private:
  std::filesystem::path path_, temporary_;
  std::FILE* file_ = nullptr;
};

}  // namespace mpilake
