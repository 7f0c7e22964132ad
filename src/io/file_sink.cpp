#include "mpilake/io/file_sink.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string>
#include <utility>

namespace mpilake {
namespace {

[[noreturn]] void throw_file_error(const std::filesystem::path& path, std::string_view action, int error_number) {
  throw std::runtime_error("cannot " + std::string(action) + " " + path.string() + ": " + std::strerror(error_number));
}

}  // namespace

FileSink::FileSink(std::filesystem::path path) : path_(std::move(path)) {
  fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd_ < 0) throw_file_error(path_, "create", errno);
}

FileSink::~FileSink() {
  if (fd_ >= 0) ::close(fd_);
}

void FileSink::write(std::string_view data) {
  while (!data.empty()) {
    const ssize_t written = ::write(fd_, data.data(), data.size());
    if (written < 0) {
      if (errno == EINTR) continue;
      throw_file_error(path_, "write", errno);
    }
    data.remove_prefix(static_cast<std::size_t>(written));
    bytes_ += written;
  }
}

void FileSink::close() {
  if (fd_ < 0) return;
  const int fd = std::exchange(fd_, -1);
  if (::close(fd) != 0) throw_file_error(path_, "close", errno);
}

}  // namespace mpilake
