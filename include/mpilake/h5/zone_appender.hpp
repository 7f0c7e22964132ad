#pragma once
// A zone written in pieces: the datasets are created once, any number of collective append() calls
// add rows after the earlier calls' rows (ranks in rank order within a call), and finish() writes the
// root attributes and renames the file into place. The finished file equals, dataset by dataset and
// attribute by attribute, the one write_zone writes for the concatenated rows: same types, string
// widths, chunks, filters, fill time and null_value attributes. For runs larger than memory, which
// write a zone pass by pass (docs/spill.md).
//
// write_zone derives the dataset length and the string widths from the rows it is given; an appender
// cannot, so the caller states them up front in a ZoneAppendPlan (from the pass that counted the rows,
// e.g. the spill files' row counts and the longest key seen). A wrong plan is an error, never a
// different file: finish() refuses a row count other than the plan's, append() a string longer than
// its width. The `extra` tables (indexes such as device_serial / device_offset) are small: their rows
// are kept in memory until finish(), which writes them exactly as write_zone does (widths from the
// values).
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "mpilake/h5/handle.hpp"
#include "mpilake/h5/zone_writer.hpp"
#include "mpilake/mpi/comm.hpp"
#include "mpilake/table/table.hpp"

namespace mpilake {

struct ZoneAppendPlan {
  // Rows of the finished zone: all ranks and all appends together.
  std::int64_t rows = 0;
  // Fixed length of every String column and every dictionary column, by column name: what write_zone
  // would pick, the longest value in bytes in the finished zone and at least 1.
  std::map<std::string, std::size_t> string_widths;
};

class ZoneAppender {
 public:
  // Collective. Creates the zone's datasets in a temporary file beside `path`. `schema`, `plan`,
  // `layout`, `extra` (the extra tables' schemas) and `dictionaries` must be the same on every rank;
  // a dictionary's values must stay valid until finish(). Throws std::invalid_argument (on every rank
  // alike) when the plan lacks a string width or a dictionary column is not int64.
  ZoneAppender(const Comm& comm, std::filesystem::path path, Schema schema, ZoneAppendPlan plan, ZoneLayout layout = {},
               std::vector<Schema> extra = {}, std::vector<DictionaryColumn> dictionaries = {});
  // Without finish(): nothing appears under `path` (an older file there stays as it was) and rank 0
  // removes the temporary file; the HDF5 file is abandoned, not closed, since its close is collective
  // and the other ranks may not be destroying theirs.
  ~ZoneAppender();
  ZoneAppender(const ZoneAppender&) = delete;
  ZoneAppender& operator=(const ZoneAppender&) = delete;

  // Collective: this rank's next rows (the schema given at construction; zero rows are fine), and, when
  // the zone has extra tables, this rank's next rows of each (`extra` empty: none this time). Throws
  // ConsistentError on every rank when any rank's rows break the plan (too many rows, a string over its
  // width, an id outside its dictionary, another schema). After any exception the appender is spent:
  // destroy it.
  void append(const Table& rows, const std::vector<const Table*>& extra = {});

  // Collective: writes what is still held, the extra tables and the root attributes (`attributes`, then
  // `rows` and `columns`, as write_zone), closes the file and renames it to `path`. Throws
  // ConsistentError when the rows appended are not the plan's.
  ZoneWriteResult finish(const std::vector<Attribute>& attributes);

  std::int64_t rows_appended() const { return appended_; }  // all ranks together, so far
  const std::filesystem::path& path() const { return path_; }

 private:
  struct Column {
    ColumnType stored = ColumnType::Int64;
    std::size_t width = 8;  // bytes per stored value
    const DictionaryColumn* dictionary = nullptr;
    H5Handle type;
    H5Handle dataset;
    std::string pending;  // compressed zones: this rank's rows not yet written, as stored
  };
  struct Range {
    std::int64_t start = 0;
    std::int64_t count = 0;
  };
  // Compressed zones: takes `rows` (the call's rows, or null) into the pending rows, then writes those
  // that land below row `below` (collective when below > written_).
  void write_pending(std::int64_t below, const Table* rows);
  void abandon() noexcept;
  void check_usable() const;

  Comm comm_;
  std::filesystem::path path_;
  std::filesystem::path temporary_;
  std::string where_;
  Schema schema_;
  ZoneAppendPlan plan_;
  ZoneLayout layout_;
  std::vector<DictionaryColumn> dictionaries_;
  std::vector<Table> extra_;                      // this rank's rows of each extra table, in call order
  std::vector<std::vector<Range>> extra_ranges_;  // where they land in their datasets
  std::vector<std::int64_t> extra_appended_;      // rows of each extra table, all ranks
  H5Handle file_;
  H5Handle transfer_;
  std::vector<Column> columns_;
  std::vector<Range> pending_ranges_;  // compressed zones: where the pending rows land
  std::int64_t appended_ = 0;
  std::int64_t written_ = 0;  // rows below this are in the file (compressed zones: whole chunks)
  std::int64_t chunk_rows_ = 1;
  bool finished_ = false;
  bool spent_ = false;  // an exception went through: only destruction is left
};

}  // namespace mpilake
