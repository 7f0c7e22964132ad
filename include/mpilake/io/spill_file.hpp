#pragma once
// Spill files for runs larger than memory: a rank's scratch folder, and files of framed blocks of
// Table columns (int64, float64, string) written and read back in order.
//
// Block format (all fields little-endian; docs/spill.md):
//   offset  0  magic "MLSP"                     4 bytes
//           4  format version (1)               u32
//           8  row count                        u64
//          16  column count                     u32
//          20  schema tag: CRC-32C of the column type codes (1 int64, 2 float64, 3 string)  u32
//          24  payload bytes u64 (rows * columns * 8, plus the string bytes and their padding)
//          32  CRC-32C of the payload           u32
//          36  CRC-32C of header bytes 0..35    u32
//          40  payload: column after column, each `rows` 8-byte values; a string column's values are
//              its rows' end offsets (u64, from 0), followed by its bytes, zero-padded to 8
// A file is its blocks, one after the other, then an end record written by close(): a header of magic
// "MLSE", version, block count at 8, total rows at 24, zeros elsewhere, its CRC-32C at 36. A file
// without it (a writer that never closed, a file cut at a block boundary) is reported as truncated.
#include <sys/uio.h>

#include <cstdint>
#include <filesystem>
#include <string_view>
#include <vector>

#include "mpilake/table/table.hpp"

namespace mpilake {

// The folder under a run's scratch location (--scratch DIR, default under --out) that holds the ranks'
// folders.
inline constexpr std::string_view kScratchFolderName = ".mpilake.scratch";

// A folder owned by one rank of a run (rank_folder(): <scratch>/.mpilake.scratch/rank-N): created on
// construction (with its parents; a folder of that name left by a killed run is emptied first), removed
// with everything in it on destruction, also while an exception unwinds; the .mpilake.scratch parent
// goes with the last rank's folder (and a run's folder between them, see rank_folder). Destroyed while
// an exception unwinds, a run's rank folder takes its run's folder with it, the other ranks' folders
// included (an error on one rank ends in MPI_Abort, which leaves the others no time to clean up).
// Counts the bytes spilled.
class ScratchFolder {
 public:
  // <scratch>/.mpilake.scratch/rank-<rank>
  static std::filesystem::path rank_folder(const std::filesystem::path& scratch, int rank);
  // <scratch>/.mpilake.scratch/<run>/rank-<rank>: for a scratch location that several runs may share
  // (--scratch DIR), each run in its own folder, e.g. one named after its output folder.
  static std::filesystem::path rank_folder(const std::filesystem::path& scratch, const std::string& run, int rank);

  // Throws std::runtime_error("cannot create scratch folder PATH: REASON").
  explicit ScratchFolder(std::filesystem::path path);
  ~ScratchFolder();  // removes the folder; errors are ignored (nothing can be reported from here)
  ScratchFolder(const ScratchFolder&) = delete;
  ScratchFolder& operator=(const ScratchFolder&) = delete;

  const std::filesystem::path& path() const { return path_; }
  // path() / name
  std::filesystem::path file(std::string_view name) const { return path_ / name; }
  // Bytes written into spill files of this folder so far (headers included).
  std::int64_t bytes_spilled() const { return bytes_spilled_; }
  void add_spilled(std::int64_t bytes) { bytes_spilled_ += bytes; }

 private:
  std::filesystem::path path_;
  int uncaught_at_start_ = 0;  // std::uncaught_exceptions() at construction: unwinding when it is more
  std::int64_t bytes_spilled_ = 0;
};

// Size of a block's header in bytes.
inline constexpr std::size_t kSpillBlockHeaderBytes = 40;

// Appends blocks to a new file in a scratch folder.
class SpillWriter {
 public:
  // Creates folder.file(name) (it must not exist); throws std::runtime_error naming it (a full disk:
  // the line of append()). The folder must outlive the writer.
  SpillWriter(ScratchFolder& folder, std::string_view name, Schema schema);
  ~SpillWriter();  // closes without checking; call close() to see errors
  SpillWriter(const SpillWriter&) = delete;
  SpillWriter& operator=(const SpillWriter&) = delete;

  // Appends all rows of `rows` (the writer's schema; zero rows give an empty block) as one block.
  // Throws std::runtime_error: on a full disk "scratch disk full: PATH (N bytes spilled on this
  // rank); free space or pass --scratch DIR", otherwise "cannot write spill file PATH: REASON".
  void append(const Table& rows);
  // Writes the end record and closes; throws as append() does. No-op when closed. A file is only
  // readable after close().
  void close();

  const std::filesystem::path& path() const { return path_; }
  const Schema& schema() const { return schema_; }
  std::int64_t blocks() const { return blocks_; }
  std::int64_t rows() const { return rows_; }
  std::int64_t bytes() const { return bytes_; }  // written to this file so far

 private:
  void write_pieces(std::vector<iovec>& pieces);
  [[noreturn]] void throw_write_error(int error) const;

  ScratchFolder& folder_;
  std::filesystem::path path_;
  Schema schema_;
  int fd_ = -1;
  std::int64_t blocks_ = 0;
  std::int64_t rows_ = 0;
  std::int64_t bytes_ = 0;
};

// Reads a spill file's blocks back, in write order, each as a Table of the given schema (which must
// be the writer's). Every error is std::runtime_error("corrupt spill file PATH: block K ...") with K
// counted from 0 (the end record counts as block `blocks`): "bad magic", "truncated (...)", "header
// checksum mismatch", "checksum mismatch", "has N columns, the reader expects M", "has other column
// types than the reader expects".
class SpillReader {
 public:
  // Opens `path`; throws std::runtime_error("cannot open spill file PATH: REASON").
  SpillReader(std::filesystem::path path, Schema schema);
  ~SpillReader();
  SpillReader(const SpillReader&) = delete;
  SpillReader& operator=(const SpillReader&) = delete;

  // Replaces `block` with the next block; false at the end of the file. A `block` of the reader's
  // schema keeps its columns' memory (pass the same Table in every time).
  bool next(Table& block);

  const std::filesystem::path& path() const { return path_; }
  std::int64_t blocks_read() const { return block_; }

 private:
  // Reads up to `size` bytes (fewer only at the end of the file); returns how many.
  std::size_t read_some(void* data, std::size_t size);

  std::filesystem::path path_;
  Schema schema_;
  int fd_ = -1;
  std::uint64_t file_size_ = 0;
  std::uint64_t position_ = 0;
  std::int64_t block_ = 0;
  bool ended_ = false;
};

}  // namespace mpilake
