#include "mpilake/io/atomic_file.hpp"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <string>
#include <utility>

namespace mpilake {

std::filesystem::path temporary_path_for(const std::filesystem::path& path) {
  std::string name = ".";
  name += path.filename().string();
  name += ".tmp";
  return path.parent_path() / name;
}

void write_file_atomically(const std::filesystem::path& path, std::string_view contents) {
  const auto temporary = temporary_path_for(path);
  std::FILE* file = std::fopen(temporary.c_str(), "wb");
  if (file == nullptr) throw std::runtime_error("cannot create " + temporary.string() + ": " + std::strerror(errno));
  const bool written = std::fwrite(contents.data(), 1, contents.size(), file) == contents.size();
  const int saved_errno = errno;
  if (std::fclose(file) != 0 || !written) {
    std::filesystem::remove(temporary);
    throw std::runtime_error("cannot write " + temporary.string() + ": " +
                             std::strerror(written ? errno : saved_errno));
  }
  std::error_code ec;
  std::filesystem::rename(temporary, path, ec);
  if (ec)
    throw std::runtime_error("cannot rename " + temporary.string() + " to " + path.string() + ": " + ec.message());
}

AtomicFileWriter::AtomicFileWriter(std::filesystem::path path)
    : path_(std::move(path)), temporary_(temporary_path_for(path_)) {
  file_ = std::fopen(temporary_.c_str(), "wb");
  if (file_ == nullptr) throw std::runtime_error("cannot create " + temporary_.string() + ": " + std::strerror(errno));
}

AtomicFileWriter::~AtomicFileWriter() {
  if (file_ == nullptr) return;
  std::fclose(file_);
  std::error_code ec;
  std::filesystem::remove(temporary_, ec);
}

void AtomicFileWriter::append(std::string_view text) {
  if (file_ == nullptr) throw std::logic_error("AtomicFileWriter::append after commit");
  if (std::fwrite(text.data(), 1, text.size(), file_) != text.size())
    throw std::runtime_error("cannot write " + temporary_.string() + ": " + std::strerror(errno));
}

void AtomicFileWriter::commit() {
  if (file_ == nullptr) throw std::logic_error("AtomicFileWriter::commit twice");
  std::FILE* file = file_;
  file_ = nullptr;
  if (std::fclose(file) != 0) {
    const int saved_errno = errno;
    std::error_code ec;
    std::filesystem::remove(temporary_, ec);
    throw std::runtime_error("cannot write " + temporary_.string() + ": " + std::strerror(saved_errno));
  }
  std::error_code ec;
  std::filesystem::rename(temporary_, path_, ec);
  if (ec) {
    std::filesystem::remove(temporary_, ec);
    throw std::runtime_error("cannot rename " + temporary_.string() + " to " + path_.string() + ": " + ec.message());
  }
}

}  // namespace mpilake
