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
  AtomicFileWriter writer(path);
  writer.append(contents);
  writer.commit();
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
