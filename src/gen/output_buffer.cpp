#include "mpilake/gen/output_buffer.hpp"

#include <algorithm>
#include <cstring>
#include <utility>

namespace mpilake::gen {
namespace {
constexpr std::size_t kInitialBytes = std::size_t{64} << 10;
}  // namespace

OutputBuffer::OutputBuffer(Flush flush, std::size_t flush_bytes)
    : flush_(std::move(flush)), flush_bytes_(std::max<std::size_t>(flush_bytes, 4096)) {
  text_.resize(flush_ ? flush_bytes_ + kInitialBytes : kInitialBytes);
  limit_ = flush_ ? flush_bytes_ : text_.size();
}

void OutputBuffer::make_room(std::size_t max_bytes) {
  if (flush_ && used_ > 0) flush();
  if (used_ + max_bytes > text_.size()) text_.resize(std::max(2 * text_.size(), used_ + max_bytes));
  limit_ = flush_ ? std::max(flush_bytes_, max_bytes) : text_.size();
}

void OutputBuffer::append(std::string_view text) {
  char* out = reserve(text.size());
  std::memcpy(out, text.data(), text.size());
  commit(out + text.size());
}

void OutputBuffer::flush() {
  if (!flush_ || used_ == 0) return;
  flush_(std::string_view(text_.data(), used_));
  flushed_ += static_cast<std::int64_t>(used_);
  used_ = 0;
}

std::string OutputBuffer::take() {
  std::string text = std::move(text_);
  text.resize(used_);
  used_ = 0;
  text_.assign(kInitialBytes, '\0');
  limit_ = flush_ ? flush_bytes_ : text_.size();
  return text;
}

}  // namespace mpilake::gen
