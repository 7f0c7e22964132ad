#pragma once
// Discovery of landing files and the split of each source's bytes into one contiguous range per rank.
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "mpilake/mpi/comm.hpp"

namespace mpilake {

struct LandingFile {
  std::string path;
  std::int64_t bytes = 0;
};

struct SourceFiles {
  std::string source;  // e.g. "customer": the sub-folder of the landing root
  std::vector<LandingFile> files;
  std::int64_t total_bytes() const;
};

// A clear, user-facing problem with the input (missing folder, unreadable file, ...).
class InputError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Rank 0 lists `landing/<source>/` (regular, non-hidden files, sorted by name) and every rank learns
// the result. Throws ConsistentError on every rank when a folder is missing or unreadable.
std::vector<SourceFiles> discover_landing(const Comm& comm, const std::filesystem::path& landing,
                                          const std::vector<std::string>& sources);

// A topic of streams (e.g. Kafka partitions): each non-hidden sub-folder of `landing/<topic>/` is one
// stream, and the files directly in `landing/<topic>/` form one more, named "" and listed first.
// Streams come in byte order of their names; each is a SourceFiles named "<topic>/<stream>" with
// its files in name order (one sequence). Collective; ConsistentError on every rank when the topic
// folder is missing or holds an entry that is neither a file nor a folder.
std::vector<SourceFiles> discover_streams(const Comm& comm, const std::filesystem::path& landing,
                                          const std::string& topic);

// The part of one file a rank owns: the lines whose first byte lies in [begin, end).
struct FileSegment {
  std::size_t file_index = 0;
  std::int64_t begin = 0;
  std::int64_t end = 0;
};

// Cuts the concatenation of a source's files into `parts` near-equal byte ranges and returns the
// per-file segments of range `part`. Segments are byte ranges; line snapping happens when reading.
std::vector<FileSegment> split_byte_range(const SourceFiles& source, int part, int parts);

}  // namespace mpilake
