#pragma once
// A file written with large POSIX writes, every call checked: the generators hand it buffers of
// megabytes, so a stdio or iostream layer would only add a copy.
#include <cstdint>
#include <filesystem>
#include <string_view>

namespace mpilake {

class FileSink {
 public:
  // Creates or truncates `path`; throws std::runtime_error naming it on failure.
  explicit FileSink(std::filesystem::path path);
  FileSink(const FileSink&) = delete;
  FileSink& operator=(const FileSink&) = delete;
  ~FileSink();  // closes without checking; call close() to see errors

  // Writes all of `data` (retrying short writes); throws std::runtime_error naming the file.
  void write(std::string_view data);
  // Throws std::runtime_error if the close fails (e.g. a delayed write error). No-op when closed.
  void close();

  const std::filesystem::path& path() const { return path_; }
  std::int64_t bytes() const { return bytes_; }  // written so far

 private:
  std::filesystem::path path_;
  int fd_ = -1;
  std::int64_t bytes_ = 0;
};

}  // namespace mpilake
