#pragma once
// A generator's output buffer: lines are formatted straight into it through a raw pointer, and it
// hands large chunks to a flush function (a file), or keeps everything when there is none (tests).
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

namespace mpilake::gen {

class OutputBuffer {
 public:
  using Flush = std::function<void(std::string_view)>;

  // Without `flush` the buffer grows and keeps all text (take() returns it).
  explicit OutputBuffer(Flush flush = nullptr, std::size_t flush_bytes = std::size_t{4} << 20);

  // Room for at least `max_bytes` at the returned pointer; write there, then commit(end).
  char* reserve(std::size_t max_bytes) {
    if (used_ + max_bytes > limit_) make_room(max_bytes);
    return text_.data() + used_;
  }
  void commit(const char* end) { used_ = static_cast<std::size_t>(end - text_.data()); }
  void append(std::string_view text);

  // Hands the buffered bytes to the flush function (no-op without one).
  void flush();
  std::int64_t bytes() const { return flushed_ + static_cast<std::int64_t>(used_); }  // in total
  std::string_view buffered() const { return {text_.data(), used_}; }
  std::string take();  // the buffered text; the buffer is empty afterwards

 private:
  void make_room(std::size_t max_bytes);

  Flush flush_;
  std::size_t flush_bytes_;
  std::string text_;  // sized to the capacity; bytes [0, used_) are the content
  std::size_t used_ = 0;
  std::size_t limit_ = 0;  // reserve() beyond this flushes (or, without a flush function, grows)
  std::int64_t flushed_ = 0;
};

}  // namespace mpilake::gen
