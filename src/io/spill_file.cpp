#include "mpilake/io/spill_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <climits>
#include <cstring>
#include <exception>
#include <stdexcept>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "mpilake/util/crc32c.hpp"

namespace mpilake {
namespace {

static_assert(std::endian::native == std::endian::little, "spill files store the machine's little-endian words");
static_assert(sizeof(double) == 8 && sizeof(std::int64_t) == 8);

constexpr char kMagic[4] = {'M', 'L', 'S', 'P'};
constexpr char kEndMagic[4] = {'M', 'L', 'S', 'E'};
constexpr std::uint32_t kVersion = 1;

// 1 int64, 2 float64, 3 string.
std::string type_codes(const Schema& schema) {
  std::string codes;
  for (const ColumnSpec& column : schema)
    codes.push_back(column.type == ColumnType::Int64 ? '\1' : (column.type == ColumnType::Float64 ? '\2' : '\3'));
  return codes;
}

template <class T>
void put(unsigned char* header, std::size_t at, T value) {
  std::memcpy(header + at, &value, sizeof(T));
}

template <class T>
T get(const unsigned char* header, std::size_t at) {
  T value;
  std::memcpy(&value, header + at, sizeof(T));
  return value;
}

constexpr unsigned char kZeros[8] = {};

std::size_t padding_to_8(std::size_t bytes) {
  return (8 - bytes % 8) % 8;
}

// A column's payload pieces: 8-byte values, or a string column's end offsets, its bytes and the zeros
// that pad them to 8.
void column_pieces(const Table& rows, std::size_t column, std::vector<iovec>& pieces) {
  const std::size_t row_count = rows.num_rows();
  const auto add = [&](const void* data, std::size_t bytes) {
    if (bytes > 0) pieces.push_back({const_cast<void*>(data), bytes});
  };
  switch (rows.schema()[column].type) {
    case ColumnType::Int64: add(rows.ints(column).data(), row_count * 8); break;
    case ColumnType::Float64: add(rows.floats(column).data(), row_count * 8); break;
    case ColumnType::String: {
      const StringColumn& strings = rows.strings(column);
      add(strings.end_offsets(), row_count * 8);
      add(strings.byte_data(), strings.byte_size());
      add(kZeros, padding_to_8(strings.byte_size()));
      break;
    }
  }
}

}  // namespace

std::filesystem::path ScratchFolder::rank_folder(const std::filesystem::path& scratch, int rank) {
  return scratch / kScratchFolderName / ("rank-" + std::to_string(rank));
}

std::filesystem::path ScratchFolder::rank_folder(const std::filesystem::path& scratch, const std::string& run,
                                                 int rank) {
  return scratch / kScratchFolderName / run / ("rank-" + std::to_string(rank));
}

ScratchFolder::ScratchFolder(std::filesystem::path path)
    : path_(std::move(path)), uncaught_at_start_(std::uncaught_exceptions()) {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
  // Another rank's folder may remove the shared .mpilake.scratch parent the moment it becomes empty,
  // between the creation of the parent and ours: try again then.
  for (int attempt = 0; !ec && attempt < 5; ++attempt) {
    std::filesystem::create_directories(path_, ec);
    if (ec != std::errc::no_such_file_or_directory) break;
    ec.clear();
  }
  if (!ec && !std::filesystem::is_directory(path_, ec) && !ec) ec = std::make_error_code(std::errc::not_a_directory);
  if (ec) throw std::runtime_error("cannot create scratch folder " + path_.string() + ": " + ec.message());
}

ScratchFolder::~ScratchFolder() {
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
  const auto parent = path_.parent_path();
  // Unwinding from an error: the run is over, and a rank that failed alone is followed by MPI_Abort,
  // which kills the other ranks before they can remove their folders. Their folders beside this one
  // (same node or shared disk) go now; the run's folder is this run's alone (named after its output).
  if (std::uncaught_exceptions() > uncaught_at_start_ && parent.parent_path().filename() == kScratchFolderName) {
    std::filesystem::remove_all(parent, ignored);
    std::filesystem::remove(parent.parent_path(), ignored);
    return;
  }
  // The last rank's folder takes the shared parents with it, up to .mpilake.scratch (removing a folder
  // that is not empty fails, and stops the walk).
  if (parent.filename() == kScratchFolderName) {
    std::filesystem::remove(parent, ignored);
  } else if (parent.parent_path().filename() == kScratchFolderName) {
    if (std::filesystem::remove(parent, ignored)) std::filesystem::remove(parent.parent_path(), ignored);
  }
}

SpillWriter::SpillWriter(ScratchFolder& folder, std::string_view name, Schema schema)
    : folder_(folder), path_(folder.file(name)), schema_(std::move(schema)) {
  fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd_ < 0) {
    const int error = errno;
    if (error == ENOSPC || error == EDQUOT) throw_write_error(error);
    throw std::runtime_error("cannot create spill file " + path_.string() + ": " + std::strerror(error));
  }
}

SpillWriter::~SpillWriter() {
  if (fd_ >= 0) ::close(fd_);
}

void SpillWriter::append(const Table& rows) {
  if (fd_ < 0) throw std::logic_error("spill file " + path_.string() + ": append after close");
  if (!same_schema(rows.schema(), schema_))
    throw std::invalid_argument("spill file " + path_.string() + ": block schema differs from the file's");
  const std::size_t row_count = rows.num_rows();

  // The header, then the columns in place (no copy), in one writev continued after short writes.
  unsigned char header[kSpillBlockHeaderBytes] = {};
  std::vector<iovec> pieces;
  pieces.push_back({header, sizeof header});
  for (std::size_t c = 0; c < schema_.size(); ++c) column_pieces(rows, c, pieces);
  std::uint32_t payload_crc = 0;
  std::uint64_t payload_bytes = 0;
  for (std::size_t i = 1; i < pieces.size(); ++i) {
    payload_crc = crc32c(payload_crc, pieces[i].iov_base, pieces[i].iov_len);
    payload_bytes += pieces[i].iov_len;
  }
  std::memcpy(header, kMagic, 4);
  put<std::uint32_t>(header, 4, kVersion);
  put<std::uint64_t>(header, 8, row_count);
  put<std::uint32_t>(header, 16, static_cast<std::uint32_t>(schema_.size()));
  put<std::uint32_t>(header, 20, crc32c(type_codes(schema_)));
  put<std::uint64_t>(header, 24, payload_bytes);
  put<std::uint32_t>(header, 32, payload_crc);
  put<std::uint32_t>(header, 36, crc32c(0, header, 36));
  write_pieces(pieces);
  ++blocks_;
  rows_ += static_cast<std::int64_t>(row_count);
}

void SpillWriter::write_pieces(std::vector<iovec>& pieces) {
  std::size_t next = 0;
  while (next < pieces.size()) {
    const int count = static_cast<int>(std::min<std::size_t>(pieces.size() - next, IOV_MAX));
    const ssize_t written = ::writev(fd_, pieces.data() + next, count);
    if (written < 0) {
      if (errno == EINTR) continue;
      throw_write_error(errno);
    }
    bytes_ += written;
    folder_.add_spilled(written);
    auto left = static_cast<std::size_t>(written);
    while (next < pieces.size() && left >= pieces[next].iov_len) left -= pieces[next++].iov_len;
    if (left > 0) {
      pieces[next].iov_base = static_cast<char*>(pieces[next].iov_base) + left;
      pieces[next].iov_len -= left;
    }
  }
}

void SpillWriter::throw_write_error(int error) const {
  if (error == ENOSPC || error == EDQUOT)
    throw std::runtime_error("scratch disk full: " + path_.string() + " (" + std::to_string(folder_.bytes_spilled()) +
                             " bytes spilled on this rank); free space or pass --scratch DIR");
  throw std::runtime_error("cannot write spill file " + path_.string() + ": " + std::strerror(error));
}

void SpillWriter::close() {
  if (fd_ < 0) return;
  // The end record: a reader tells a complete file from one cut at a block boundary.
  unsigned char end[kSpillBlockHeaderBytes] = {};
  std::memcpy(end, kEndMagic, 4);
  put<std::uint32_t>(end, 4, kVersion);
  put<std::uint64_t>(end, 8, static_cast<std::uint64_t>(blocks_));
  put<std::uint64_t>(end, 24, static_cast<std::uint64_t>(rows_));
  put<std::uint32_t>(end, 36, crc32c(0, end, 36));
  std::vector<iovec> pieces = {{end, sizeof end}};
  write_pieces(pieces);
  const int fd = std::exchange(fd_, -1);
  if (::close(fd) != 0) throw_write_error(errno);
}

SpillReader::SpillReader(std::filesystem::path path, Schema schema)
    : path_(std::move(path)), schema_(std::move(schema)) {
  fd_ = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd_ < 0) throw std::runtime_error("cannot open spill file " + path_.string() + ": " + std::strerror(errno));
  struct stat status {};
  if (::fstat(fd_, &status) != 0) {
    const int error = errno;
    ::close(fd_);
    throw std::runtime_error("cannot stat spill file " + path_.string() + ": " + std::strerror(error));
  }
  file_size_ = static_cast<std::uint64_t>(status.st_size);
}

SpillReader::~SpillReader() {
  if (fd_ >= 0) ::close(fd_);
}

std::size_t SpillReader::read_some(void* data, std::size_t size) {
  auto* at = static_cast<char*>(data);
  std::size_t done = 0;
  while (done < size) {
    const ssize_t got = ::read(fd_, at + done, size - done);
    if (got < 0) {
      if (errno == EINTR) continue;
      throw std::runtime_error("cannot read spill file " + path_.string() + ": " + std::strerror(errno));
    }
    if (got == 0) break;
    done += static_cast<std::size_t>(got);
    position_ += static_cast<std::uint64_t>(got);
  }
  return done;
}

bool SpillReader::next(Table& block) {
  const std::string where = "corrupt spill file " + path_.string() + ": block " + std::to_string(block_);
  unsigned char header[kSpillBlockHeaderBytes];
  const std::size_t got = read_some(header, sizeof header);
  if (got == 0) {
    if (ended_) return false;
    throw std::runtime_error(where + " truncated (the file ends without its end record after " +
                             std::to_string(block_) + " blocks)");
  }
  if (ended_) throw std::runtime_error(where + " follows the end record");
  if (got < sizeof header)
    throw std::runtime_error(where + " truncated (header: " + std::to_string(got) + " of " +
                             std::to_string(sizeof header) + " bytes)");
  const bool end = std::memcmp(header, kEndMagic, 4) == 0;
  if (!end && std::memcmp(header, kMagic, 4) != 0) throw std::runtime_error(where + " bad magic");
  if (get<std::uint32_t>(header, 36) != crc32c(0, header, 36))
    throw std::runtime_error(where + " header checksum mismatch");
  if (end) {
    if (get<std::uint64_t>(header, 8) != static_cast<std::uint64_t>(block_))
      throw std::runtime_error(where + " is an end record that counts " +
                               std::to_string(get<std::uint64_t>(header, 8)) + " blocks, the file holds " +
                               std::to_string(block_));
    ended_ = true;
    return next(block);  // false at the end of the file; an error if anything follows
  }
  if (get<std::uint32_t>(header, 4) != kVersion)
    throw std::runtime_error(where + " has format version " + std::to_string(get<std::uint32_t>(header, 4)) +
                             ", this build reads " + std::to_string(kVersion));
  const auto rows = get<std::uint64_t>(header, 8);
  const auto columns = get<std::uint32_t>(header, 16);
  const auto payload_bytes = get<std::uint64_t>(header, 24);
  if (columns != schema_.size())
    throw std::runtime_error(where + " has " + std::to_string(columns) + " columns, the reader expects " +
                             std::to_string(schema_.size()));
  if (get<std::uint32_t>(header, 20) != crc32c(type_codes(schema_)))
    throw std::runtime_error(where + " has other column types than the reader expects");
  // Every column has `rows` 8-byte words (a string column's end offsets); string bytes come on top.
  const bool has_strings =
      std::any_of(schema_.begin(), schema_.end(), [](const ColumnSpec& c) { return c.type == ColumnType::String; });
  const bool consistent =
      columns == 0 ? payload_bytes == 0
                   : rows <= payload_bytes / 8 / columns && (has_strings || payload_bytes == rows * 8 * columns);
  if (!consistent)
    throw std::runtime_error(where + " header inconsistent (" + std::to_string(rows) + " rows, " +
                             std::to_string(payload_bytes) + " payload bytes)");

  // A truncated file shows here, before the payload's memory is allocated.
  const std::uint64_t left = position_ < file_size_ ? file_size_ - position_ : 0;
  if (payload_bytes > left)
    throw std::runtime_error(where + " truncated (payload: " + std::to_string(left) + " of " +
                             std::to_string(payload_bytes) + " bytes)");

  // A block of this schema passed in again keeps its memory: fresh pages cost more than the read
  // (measured: faulting in a new 128 MiB column takes twice as long as reading it from the page cache).
  if (!same_schema(block.schema(), schema_))
    block = Table(schema_);
  else if (schema_.empty())
    block.truncate_rows(0);
  std::uint32_t crc = 0;
  std::uint64_t read_bytes = 0;
  // Reads `bytes` into `into`, in pieces of 1 MiB, each checksummed while it is still in the cache
  // (measured: one read of a whole large column runs at a fraction of the speed).
  const auto read_payload = [&](void* into, std::size_t bytes) {
    if (read_bytes + bytes > payload_bytes)
      throw std::runtime_error(where + " header inconsistent (a string column's " + std::to_string(bytes) +
                               " bytes run past the payload's " + std::to_string(payload_bytes) + ")");
    for (std::size_t at = 0; at < bytes;) {
      const std::size_t piece = std::min<std::size_t>(bytes - at, std::size_t{1} << 20);
      char* to = static_cast<char*>(into) + at;
      const std::size_t got = read_some(to, piece);
      read_bytes += got;
      if (got < piece)
        throw std::runtime_error(where + " truncated (payload: " + std::to_string(read_bytes) + " of " +
                                 std::to_string(payload_bytes) + " bytes)");
      crc = crc32c(crc, to, piece);
      at += piece;
    }
  };
  const std::size_t word_bytes = static_cast<std::size_t>(rows) * 8;
  for (std::size_t c = 0; c < schema_.size(); ++c) {
    switch (schema_[c].type) {
      case ColumnType::Int64:
        block.ints(c).resize(rows);
        read_payload(block.ints(c).data(), word_bytes);
        break;
      case ColumnType::Float64:
        block.floats(c).resize(rows);
        read_payload(block.floats(c).data(), word_bytes);
        break;
      case ColumnType::String: {
        StringColumn& strings = block.strings(c);
        strings.resize_for_fill(rows, 0);
        read_payload(strings.end_offsets(), word_bytes);
        // The offsets must rise and stay inside the payload before they size anything (the checksum
        // is only known at the end).
        std::uint64_t previous = 0;
        for (std::uint64_t r = 0; r < rows; ++r) {
          const std::uint64_t end_offset = strings.end_offsets()[r];
          if (end_offset < previous || end_offset > payload_bytes - read_bytes)
            throw std::runtime_error(where + " checksum mismatch (string offsets out of order)");
          previous = end_offset;
        }
        strings.resize_for_fill(rows, previous);
        read_payload(strings.byte_data(), previous);
        unsigned char padding[8];
        read_payload(padding, padding_to_8(previous));
        break;
      }
    }
  }
  if (read_bytes != payload_bytes)
    throw std::runtime_error(where + " header inconsistent (" + std::to_string(rows) + " rows, " +
                             std::to_string(payload_bytes) + " payload bytes, " + std::to_string(read_bytes) +
                             " read)");
  if (crc != get<std::uint32_t>(header, 32)) throw std::runtime_error(where + " checksum mismatch");
  if (columns > 0)
    block.set_rows_from_columns();
  else
    for (std::uint64_t r = 0; r < rows; ++r) block.commit_row();
  ++block_;
  return true;
}

}  // namespace mpilake
