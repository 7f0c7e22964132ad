#include "mpilake/io/line_reader.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "mpilake/io/landing.hpp"

#if defined(__AVX2__)
#include <immintrin.h>
#endif

namespace mpilake {

namespace {

// Bytes readable past the data in the buffer, whatever the caller's padding: NewlineFinder's blocks.
constexpr std::size_t kScanSlack = 64;
// Past the range's end only the last line's tail is needed: it is read in steps of this size.
constexpr std::int64_t kTailStep = 4096;

// The '\n's of data[from, size) in order, found 64 bytes at a time as a bit mask: one pass for the
// whole buffer instead of a memchr call per line. Reads up to 63 bytes past `size` (the padding).
class NewlineFinder {
 public:
  NewlineFinder(const char* data, std::size_t from, std::size_t size) : data_(data), size_(size), block_(from) {
    if (block_ < size_) bits_ = mask_at(block_);
  }
  // Where the next '\n' is, or `size` when there is none.
  std::size_t next() {
    while (bits_ == 0) {
      block_ += 64;
      if (block_ >= size_) return size_;
      bits_ = mask_at(block_);
    }
    const std::size_t found = block_ + static_cast<std::size_t>(__builtin_ctzll(bits_));
    bits_ &= bits_ - 1;
    return found;
  }

 private:
  std::uint64_t mask_at(std::size_t at) const {
    std::uint64_t bits = 0;
#if defined(__AVX2__)
    const __m256i newline = _mm256_set1_epi8('\n');
    const auto half = [&](std::size_t offset) {
      const __m256i block = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(data_ + at + offset));
      return static_cast<std::uint64_t>(
          static_cast<std::uint32_t>(_mm256_movemask_epi8(_mm256_cmpeq_epi8(block, newline))));
    };
    bits = half(0) | half(32) << 32;
#else
    for (std::size_t i = 0; i < 64; ++i) bits |= static_cast<std::uint64_t>(data_[at + i] == '\n') << i;
#endif
    const std::size_t valid = size_ - at;  // bytes of the block before `size`
    return valid >= 64 ? bits : bits & ((std::uint64_t{1} << valid) - 1);
  }

  const char* data_;
  std::size_t size_;
  std::size_t block_;
  std::uint64_t bits_ = 0;
};

}  // namespace

LineReader::LineReader(std::string path, std::int64_t file_size, std::int64_t begin, std::int64_t end,
                       std::size_t chunk_bytes, std::size_t padding)
    : path_(std::move(path)),
      file_size_(file_size),
      end_(end),
      chunk_bytes_(std::max<std::size_t>(chunk_bytes, 1)),
      padding_(padding) {
  if (begin >= end) {
    done_ = true;
    return;
  }
  fd_ = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd_ < 0) throw InputError("cannot open '" + path_ + "': " + std::strerror(errno));
  // Start one byte early: if that byte is not '\n', the segment starts inside a line that belongs to
  // the previous range, and everything up to the next '\n' is skipped.
  next_read_ = begin > 0 ? begin - 1 : 0;
  buffer_file_offset_ = next_read_;
  skipping_foreign_line_ = begin > 0;
  // The first read's size (a range smaller than a chunk is read whole, plus a step of its last line's
  // tail): a chunk-sized buffer zeroed for a small file's range would cost more than the reading;
  // read_more grows it when a line needs more.
  const auto first_read = std::min<std::int64_t>(static_cast<std::int64_t>(chunk_bytes_), end - next_read_ + kTailStep);
  buffer_.resize(static_cast<std::size_t>(first_read) + std::max<std::size_t>(padding_, kScanSlack));
}

LineReader::~LineReader() {
  if (fd_ >= 0) ::close(fd_);
}

// Drops buffer bytes before `keep_from`, then appends up to one chunk from the file.
// Returns the number of bytes appended (0 at end of file).
std::size_t LineReader::read_more(std::size_t keep_from) {
  const std::size_t kept = filled_ - keep_from;
  if (keep_from > 0) {
    std::memmove(buffer_.data(), buffer_.data() + keep_from, kept);
    buffer_file_offset_ += static_cast<std::int64_t>(keep_from);
    filled_ = kept;
    scan_from_ -= keep_from;
  }
  const std::int64_t remaining = file_size_ - next_read_;
  if (remaining <= 0) return 0;
  // Inside the range read whole chunks; past its end only the last line's tail is needed, so read
  // small steps rather than pulling in the next rank's data.
  const std::int64_t budget = next_read_ < end_ ? end_ - next_read_ : kTailStep;
  const std::size_t want = static_cast<std::size_t>(
      std::min({remaining, static_cast<std::int64_t>(chunk_bytes_), std::max<std::int64_t>(budget, 1)}));
  const std::size_t slack = std::max<std::size_t>(padding_, kScanSlack);
  if (buffer_.size() < filled_ + want + slack) buffer_.resize(std::max(buffer_.size() * 2, filled_ + want + slack));
  std::size_t got = 0;
  while (got < want) {
    const ssize_t n =
        ::pread(fd_, buffer_.data() + filled_ + got, want - got, next_read_ + static_cast<std::int64_t>(got));
    if (n < 0) {
      if (errno == EINTR) continue;
      throw InputError("cannot read '" + path_ + "': " + std::strerror(errno));
    }
    if (n == 0) {
      // The file shrank after discovery: the split no longer matches the file.
      throw InputError("'" + path_ + "' became shorter while being read (expected " + std::to_string(file_size_) +
                       " bytes)");
    }
    got += static_cast<std::size_t>(n);
  }
  filled_ += got;
  next_read_ += static_cast<std::int64_t>(got);
  bytes_read_ += static_cast<std::int64_t>(got);
  std::memset(buffer_.data() + filled_, 0, padding_);
  return got;
}

bool LineReader::next(std::vector<Line>& lines) {
  lines.clear();
  if (done_) return false;
  for (;;) {
    const bool at_eof = next_read_ >= file_size_;
    if (!at_eof) read_more(skipping_foreign_line_ ? filled_ : scan_from_);
    const bool eof_now = next_read_ >= file_size_;
    std::size_t position = scan_from_;
    if (skipping_foreign_line_) {
      const void* newline = std::memchr(buffer_.data() + position, '\n', filled_ - position);
      if (newline == nullptr) {
        scan_from_ = filled_;
        const std::int64_t next_line_start = buffer_file_offset_ + static_cast<std::int64_t>(filled_);
        if (eof_now || next_line_start > end_) {
          done_ = true;
          return false;
        }
        continue;
      }
      position = static_cast<std::size_t>(static_cast<const char*>(newline) - buffer_.data()) + 1;
      skipping_foreign_line_ = false;
    }
    NewlineFinder newlines(buffer_.data(), position, filled_);
    while (position < filled_) {
      const std::int64_t line_offset = buffer_file_offset_ + static_cast<std::int64_t>(position);
      if (line_offset >= end_) {
        done_ = true;
        break;
      }
      const std::size_t newline = newlines.next();
      std::size_t line_end;
      if (newline < filled_) {
        line_end = newline;
      } else if (eof_now) {
        line_end = filled_;  // last line without a final newline
      } else {
        break;  // incomplete line: keep it for the next read
      }
      Line line{line_offset, position, line_end - position};
      if (line_offset == 0 && line.length >= 3 && std::memcmp(buffer_.data() + position, "\xEF\xBB\xBF", 3) == 0) {
        line.start += 3;
        line.length -= 3;
      }
      lines.push_back(line);
      position = line_end + 1;
    }
    scan_from_ = std::min(position, filled_);
    if (eof_now && scan_from_ >= filled_) done_ = true;
    if (!lines.empty()) return true;
    if (done_) return false;
  }
}

}  // namespace mpilake
